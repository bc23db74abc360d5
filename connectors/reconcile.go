package connectors

import (
	"crypto/rand"
	"math/big"
	"strings"

	"github.com/headwater/headwater/authority"
)

// Desire computes the account a directory should hold for u: the login
// is the primary email (a UPN) unless the directory says userName.
func Desire(d *authority.Directory, u *authority.User) Desired {
	login := u.PrimaryEmail()
	if d.Login == "userName" || login == "" {
		login = u.UserName
	}
	disp := u.DisplayName
	if disp == "" {
		disp = strings.TrimSpace(u.Name.GivenName + " " + u.Name.FamilyName)
	}
	if disp == "" {
		disp = u.UserName
	}
	return Desired{
		UserID:      u.ID,
		Login:       login,
		Email:       u.PrimaryEmail(),
		GivenName:   u.Name.GivenName,
		FamilyName:  u.Name.FamilyName,
		DisplayName: disp,
		Enabled:     u.State == authority.StateActive,
	}
}

// Diff compares what Headwater wants with what the target has, returning
// the patch that makes them equal and the names of the attributes that
// differ. Logins and emails compare case-insensitively (targets fold case).
func Diff(want Desired, have Account) (Patch, []string) {
	var p Patch
	var names []string
	str := func(name, w, h string, fold bool, dst **string) {
		same := w == h
		if fold {
			same = strings.EqualFold(w, h)
		}
		if !same {
			v := w
			*dst = &v
			names = append(names, name)
		}
	}
	str("login", want.Login, have.Login, true, &p.Login)
	str("email", want.Email, have.Email, true, &p.Email)
	str("givenName", want.GivenName, have.GivenName, false, &p.GivenName)
	str("familyName", want.FamilyName, have.FamilyName, false, &p.FamilyName)
	str("displayName", want.DisplayName, have.DisplayName, false, &p.DisplayName)
	if want.Enabled != have.Enabled {
		v := want.Enabled
		p.Enabled = &v
		names = append(names, "enabled")
	}
	return p, names
}

// GeneratePassword makes the initial password of an account created
// before Headwater knows the user's password: 24 characters of every
// class, never shown to anyone; the user's next sign-in replaces it
// ("password takeover").
func GeneratePassword() string {
	const (
		lower = "abcdefghijkmnopqrstuvwxyz"
		upper = "ABCDEFGHJKLMNPQRSTUVWXYZ"
		digit = "23456789"
		sym   = "!#%+-=?@^_"
	)
	sets := []string{lower, upper, digit, sym}
	all := lower + upper + digit + sym
	out := make([]byte, 24)
	for i := range out {
		set := all
		if i < len(sets) {
			set = sets[i]
		}
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		out[i] = set[n.Int64()]
	}
	// Shuffle so the classes are not always in front.
	for i := len(out) - 1; i > 0; i-- {
		j, _ := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		out[i], out[j.Int64()] = out[j.Int64()], out[i]
	}
	return string(out)
}
