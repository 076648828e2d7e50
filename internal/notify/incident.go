package notify

import (
	"crypto/sha256"
	"encoding/hex"
)

// Incident tools (PagerDuty, Opsgenie) open an incident when the page goes
// dead and close it when it comes back, matching the two by a key. The key
// must be the same for the announcement, every reminder and the recovery,
// whichever process sends them: it is derived from the page and the
// message's Outage, which the alert state stores, never from memory.

// OutageKey is the incident key of the outage m is about:
// "vigil-<page hash>-<outage>". The page hash keeps two status pages that
// share one PagerDuty service or Opsgenie team apart.
func OutageKey(m Message) string {
	sum := sha256.Sum256([]byte(m.PageURL))
	outage := m.Outage
	if outage == "" {
		outage = "none"
	}
	return "vigil-" + hex.EncodeToString(sum[:6]) + "-" + outage
}

// opens reports whether m opens (or keeps open) an incident: the page is
// dead. Any other change ends the outage: Vigil sends nothing when a sick
// page later turns healthy, so a sick page cannot keep an incident open.
func opens(m Message) bool { return m.Status.String() == "dead" && m.Kind != Startup }

// incidentDetails are the structured details of an incident: the status,
// the dead replicas with why, the time and the page.
func incidentDetails(m Message) map[string]any {
	d := map[string]any{
		"status": m.Status.String(),
		"dead":   orEmpty(m.Dead),
		"time":   m.Time,
		"page":   m.PageURL,
	}
	if len(m.Reasons) > 0 {
		d["reasons"] = m.Reasons
	}
	if len(m.Recovered) > 0 {
		d["recovered"] = m.Recovered
	}
	return d
}

// orEmpty returns list, or an empty list for nil, so that JSON says [].
func orEmpty(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}
