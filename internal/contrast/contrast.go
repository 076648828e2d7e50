// Package contrast computes WCAG 2 contrast between colours, so the page can
// pick a readable text colour for a branding colour, and the tests can check
// the page's colours the way the guidelines define it.
package contrast

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Color is an sRGB colour with its opacity (A, 0 to 1).
type Color struct {
	R, G, B uint8
	A       float64
}

// White and Black are the two text colours ReadableOn chooses from.
var (
	White = Color{255, 255, 255, 1}
	Black = Color{0, 0, 0, 1}
)

// Minimum ratios of WCAG 2 level AA (success criterion 1.4.3).
const (
	AAText      = 4.5 // body text
	AALargeText = 3.0 // text of at least 24 px, or 18.66 px in bold
)

// Parse reads the colour forms a config or a browser's computed style
// holds: "#rgb", "#rrggbb", "rgb(r, g, b)" and "rgba(r, g, b, a)"
// (also with spaces instead of commas). Named colours are not known.
func Parse(s string) (Color, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	switch {
	case strings.HasPrefix(t, "#"):
		return parseHex(s, t[1:])
	case strings.HasPrefix(t, "rgb(") || strings.HasPrefix(t, "rgba("):
		return parseFunc(s, t)
	}
	return Color{}, fmt.Errorf("colour %q: want #rrggbb, #rgb or rgb(r, g, b)", s)
}

// ParseHex reads the form a branding colour is written in: "#rrggbb" or
// "#rgb". (The page writes it into a style attribute, where html/template
// lets only such plain values through.)
func ParseHex(s string) (Color, error) {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "#") {
		return Color{}, fmt.Errorf("colour %q: want #rrggbb or #rgb", s)
	}
	return parseHex(s, t[1:])
}

func parseHex(orig, h string) (Color, error) {
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	if len(h) != 6 {
		return Color{}, fmt.Errorf("colour %q: want #rrggbb or #rgb", orig)
	}
	v, err := strconv.ParseUint(h, 16, 32)
	if err != nil {
		return Color{}, fmt.Errorf("colour %q: not hexadecimal", orig)
	}
	return Color{uint8(v >> 16), uint8(v >> 8), uint8(v), 1}, nil
}

func parseFunc(orig, t string) (Color, error) {
	open, end := strings.IndexByte(t, '('), strings.LastIndexByte(t, ')')
	if end < open {
		return Color{}, fmt.Errorf("colour %q: missing )", orig)
	}
	fields := strings.FieldsFunc(t[open+1:end], func(r rune) bool { return r == ',' || r == ' ' || r == '/' })
	if len(fields) != 3 && len(fields) != 4 {
		return Color{}, fmt.Errorf("colour %q: want 3 or 4 components", orig)
	}
	var rgb [3]uint8
	for i := range 3 {
		v, err := strconv.ParseFloat(fields[i], 64)
		if err != nil || v < 0 || v > 255 {
			return Color{}, fmt.Errorf("colour %q: component %q is not a number from 0 to 255", orig, fields[i])
		}
		rgb[i] = uint8(math.Round(v))
	}
	c := Color{rgb[0], rgb[1], rgb[2], 1}
	if len(fields) == 4 {
		a, err := strconv.ParseFloat(strings.TrimSuffix(fields[3], "%"), 64)
		if strings.HasSuffix(fields[3], "%") {
			a /= 100
		}
		if err != nil || a < 0 || a > 1 {
			return Color{}, fmt.Errorf("colour %q: opacity %q is not from 0 to 1", orig, fields[3])
		}
		c.A = a
	}
	return c, nil
}

// Over composites c onto the opaque colour below, as a browser paints a
// translucent text or background colour over what lies beneath it.
func (c Color) Over(below Color) Color {
	mix := func(top, bottom uint8) uint8 {
		return uint8(math.Round(float64(top)*c.A + float64(bottom)*(1-c.A)))
	}
	return Color{mix(c.R, below.R), mix(c.G, below.G), mix(c.B, below.B), 1}
}

// String writes c as rgb() or rgba(), as browsers do.
func (c Color) String() string {
	if c.A < 1 {
		return fmt.Sprintf("rgba(%d, %d, %d, %g)", c.R, c.G, c.B, c.A)
	}
	return fmt.Sprintf("rgb(%d, %d, %d)", c.R, c.G, c.B)
}

// Hex writes the colour, without its opacity, as "#RRGGBB".
func (c Color) Hex() string {
	return fmt.Sprintf("#%02X%02X%02X", c.R, c.G, c.B)
}

// Luminance is the relative luminance of an opaque colour, from 0 (black)
// to 1 (white), as WCAG 2 defines it.
func (c Color) Luminance() float64 {
	lin := func(v uint8) float64 {
		s := float64(v) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c.R) + 0.7152*lin(c.G) + 0.0722*lin(c.B)
}

// Ratio is the WCAG 2 contrast ratio of two opaque colours, from 1 to 21,
// whichever is the lighter.
func Ratio(a, b Color) float64 {
	la, lb := a.Luminance(), b.Luminance()
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// ReadableOn picks the text colour for the opaque background bg: white
// when it reaches AAText (the look branding colours are usually chosen
// for), black otherwise. One of the two always reaches AAText.
func ReadableOn(bg Color) Color {
	if Ratio(White, bg) >= AAText || Ratio(White, bg) >= Ratio(Black, bg) {
		return White
	}
	return Black
}
