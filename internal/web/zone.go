package web

import (
	"strings"
	"time"
)

// zone writes times for people in the page's time zone ([branding]
// time_zone). In UTC, Vigil's default, the text is Vigil's ("09:03:01
// UTC+00:00", "4 Mar 2031, 09:03 UTC"); in another zone the same layouts end
// with the zone's offset instead ("17:03:01 UTC+08:00"). Machine-readable
// times (datetime attributes, JSON) stay in UTC.
type zone struct{ loc *time.Location }

func zoneOf(loc *time.Location) zone {
	if loc == nil {
		loc = time.UTC
	}
	return zone{loc}
}

// format writes t with layout, a layout that ends with "UTC" or "UTC+00:00".
func (z zone) format(t time.Time, layout string) string {
	if z.loc == time.UTC {
		return t.UTC().Format(layout)
	}
	base, ok := strings.CutSuffix(layout, "UTC+00:00")
	if !ok {
		base = strings.TrimSuffix(layout, "UTC")
	}
	return t.In(z.loc).Format(base + "UTC-07:00")
}

// sameDay reports whether a and b fall on the same calendar day in the zone.
func (z zone) sameDay(a, b time.Time) bool {
	ay, am, ad := a.In(z.loc).Date()
	by, bm, bd := b.In(z.loc).Date()
	return ay == by && am == bm && ad == bd
}
