package web

import (
	"fmt"
	"html/template"
	"net/url"
	"strconv"
	"strings"
)

// The 90-day bar in its compact form. A bar is one element whose
// background is the healthy colour; every run of consecutive days in another
// state (sick, dead, or without data) is one empty <i> that the stylesheet
// places from two custom properties, --a (first day, 0 = oldest) and --n
// (days in the run, left out when 1), and paints with that state's colour and pattern. A
// node that was healthy all along costs no run at all, where one element
// per day with its own hover text cost ~9 KB a node. The day details (the
// old hover text) are on the node's day page, which the bar links to and
// which index.js loads into a popover when the bar is tapped or activated
// from the keyboard.

// barStates are the day states a run is drawn for, in the order the bar's
// accessible name counts them; healthy is the bar's background. Each has a
// .bar-<state> rule in index.css (TestBarStatesStyled).
var barStates = []string{"healthy", "sick", "dead", "none"}

// barStateWords say each day state in the accessible name and on the day page.
var barStateWords = map[string]string{
	"healthy": "healthy",
	"sick":    "sick",
	"dead":    "dead",
	"none":    "without data",
}

// barState returns the day state as the bar draws it: one of barStates,
// with anything else (a health this page does not know) drawn as no data.
func barState(s string) string {
	if _, ok := barStateWords[s]; ok {
		return s
	}
	return "none"
}

// barStateWord says a day state in words, capitalised: "Sick".
func barStateWord(s string) string {
	w := barStateWords[barState(s)]
	return strings.ToUpper(w[:1]) + w[1:]
}

// barView is what the "node-history" template draws the bar from.
type barView struct {
	URL   string        // the node's day page, relative to the status page
	Label string        // the accessible name: "90 days: 87 healthy, 2 sick, 1 dead"
	Runs  template.HTML // the runs, as <i> elements
}

// daysPath is the path of a node's day page, without the leading slash so
// that it works under any path prefix, as the page's other links do.
func daysPath(service, node string) string {
	return "status/history/" + url.PathEscape(service) + "/" + url.PathEscape(node) + "/days"
}

// newBar encodes days (oldest first) as runs and counts them for the name.
func newBar(service, node string, days []dayView) barView {
	counts := make(map[string]int, len(barStates))
	var runs strings.Builder
	for i := 0; i < len(days); {
		st := barState(days[i].Status)
		j := i + 1
		for j < len(days) && barState(days[j].Status) == st {
			j++
		}
		counts[st] += j - i
		if st != "healthy" {
			// st is one of barStates, safe in a class name as it is.
			if j-i == 1 {
				fmt.Fprintf(&runs, `<i class="bar-%s" style="--a:%d"></i>`, st, i) // --n is 1 by default
			} else {
				fmt.Fprintf(&runs, `<i class="bar-%s" style="--a:%d;--n:%d"></i>`, st, i, j-i)
			}
		}
		i = j
	}
	label := strconv.Itoa(len(days)) + " days:"
	sep := " "
	for _, st := range barStates {
		if counts[st] > 0 {
			label += sep + strconv.Itoa(counts[st]) + " " + barStateWords[st]
			sep = ", "
		}
	}
	return barView{
		URL:   daysPath(service, node),
		Label: label,
		Runs:  template.HTML(runs.String()), // #nosec: built above from fixed words and integers
	}
}
