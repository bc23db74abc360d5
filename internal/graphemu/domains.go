package graphemu

import (
	"net/http"
	"strings"
)

func renderDomain(d Domain) map[string]any {
	return map[string]any{
		"id":                 d.Name,
		"authenticationType": "Managed",
		"isAdminManaged":     true,
		"isDefault":          d.Default,
		"isInitial":          strings.HasSuffix(strings.ToLower(d.Name), ".onmicrosoft.com"),
		"isRoot":             true,
		"isVerified":         d.Verified,
		"supportedServices":  []string{},
	}
}

func (e *Emulator) listDomains(w http.ResponseWriter, rc *reqCtx) *apiError {
	e.mu.Lock()
	value := make([]map[string]any, 0, len(rc.tenant.domains))
	for _, d := range rc.tenant.domains {
		value = append(value, renderDomain(d))
	}
	e.mu.Unlock()
	writeJSON(w, rc, http.StatusOK, map[string]any{
		"@odata.context": e.contextURL("domains", nil),
		"value":          value,
	})
	return nil
}

func (e *Emulator) getDomain(w http.ResponseWriter, rc *reqCtx, name string) *apiError {
	e.mu.Lock()
	var body map[string]any
	for _, d := range rc.tenant.domains {
		if strings.EqualFold(d.Name, name) {
			body = renderDomain(d)
		}
	}
	e.mu.Unlock()
	if body == nil {
		return errNotFound(name)
	}
	body["@odata.context"] = e.contextURL("domains", nil) + "/$entity"
	writeJSON(w, rc, http.StatusOK, body)
	return nil
}
