// Package configtest holds config text that tests across Vigil share.
package configtest

// Branding is a complete [branding] section: with [server] and its two
// tokens, it is all a config needs besides its probes. Tests concatenate it
// into their config text; keys added after it land in [branding].
const Branding = `[branding]
page_url = "https://status.example.com"
company_name = "Example"
icon_color = "#000"
icon_url = "https://example.com/icon.png"
logo_color = "#000"
logo_url = "https://example.com/logo.png"
website_url = "https://example.com/"
support_url = "mailto:support@example.com"
`
