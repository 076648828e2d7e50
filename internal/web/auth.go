package web

import (
	"crypto/subtle"
	"net/http"
)

// authRealm is the realm Vigil announces on every authenticated route, the
// manager's included.
const authRealm = `Basic realm="Reporter Token"`

// requireToken guards h with HTTP Basic authentication where, as in Vigil,
// only the password counts: it must equal token. Clients differ in what they
// send as the user name (empty, or "Authorization" for py-vigil-reporter),
// so any is accepted. A missing or unreadable header gets 401, a wrong
// password 403; both before the body is read.
func requireToken(token string, h http.HandlerFunc) http.HandlerFunc {
	want := []byte(token)
	return func(w http.ResponseWriter, r *http.Request) {
		_, password, ok := r.BasicAuth()
		if !ok {
			w.Header().Set("WWW-Authenticate", authRealm)
			plainError(w, http.StatusUnauthorized, "authentication required: HTTP Basic with the token as password")
			return
		}
		if subtle.ConstantTimeCompare([]byte(password), want) != 1 {
			w.Header().Set("WWW-Authenticate", authRealm)
			plainError(w, http.StatusForbidden, "wrong token")
			return
		}
		h(w, r)
	}
}

// plainError answers with a short plain-text reason.
func plainError(w http.ResponseWriter, code int, reason string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write([]byte(reason + "\n"))
}
