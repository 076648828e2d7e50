package web

import (
	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/contrast"
)

// colorScheme is the page's colour scheme for [branding] color_scheme,
// "auto" when unset (a Config built without config.Default).
func colorScheme(s string) string {
	if s == "" {
		return config.ColorSchemes[0]
	}
	return s
}

// readableTextColor is the text colour that reaches WCAG AA on the branding
// colour bg, as a CSS hex colour; "" when bg is not a colour the page can
// read (the config warns about it), which keeps the stylesheet's white.
func readableTextColor(bg string) string {
	c, err := contrast.ParseHex(bg)
	if err != nil {
		return ""
	}
	return contrast.ReadableOn(c).Hex()
}
