package local

// The agent protocol: JSON over HTTPS with client certificates, on the
// server's agent listener. Agents poll for jobs (long poll), run them with
// the machine's own tools and post each result; they report their local
// accounts (the inventory) at start and every few minutes.

// Paths on the agent listener.
const (
	PathEnroll    = "/agent/v1/enroll"
	PathJobs      = "/agent/v1/jobs"
	PathResults   = "/agent/v1/results"
	PathInventory = "/agent/v1/inventory"
)

// EnrollRequest exchanges a one-time enrolment token for a certificate.
type EnrollRequest struct {
	Token string `json:"token"`
	CSR   string `json:"csr"` // PEM, an RSA key of 2048 bits or more
}

// EnrollResponse carries the machine's certificate and the agent CA.
type EnrollResponse struct {
	Machine     string `json:"machine"`
	Certificate string `json:"certificate"` // PEM
	CA          string `json:"ca"`          // PEM
}

// Job operations.
const (
	OpSetPassword = "setPassword"
	OpDisable     = "disable"
	OpEnable      = "enable"
	OpSetFullName = "setFullName"
	OpInventory   = "inventory"
)

// Job is one change for the agent to make.
type Job struct {
	ID      string `json:"id"`
	Op      string `json:"op"`
	Account string `json:"account,omitempty"`
	// FullName for OpSetFullName.
	FullName string `json:"fullName,omitempty"`
	// Password for OpSetPassword, RSA-OAEP (SHA-256) encrypted to the
	// machine's key and base64-encoded: only that agent can read it.
	Password string `json:"password,omitempty"`
}

// Result is the outcome of a job.
type Result struct {
	ID    string `json:"id"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// NoSuchAccount marks a job for an account the machine does not have.
	NoSuchAccount bool `json:"noSuchAccount,omitempty"`
}

// LocalAccount is an account the agent reports.
type LocalAccount struct {
	Name     string `json:"name"`
	FullName string `json:"fullName,omitempty"`
	Locked   bool   `json:"locked"`
}

// Inventory is the machine's local accounts, system accounts left out.
type Inventory struct {
	Accounts []LocalAccount `json:"accounts"`
}
