package contrast

import (
	"math"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Color
	}{
		{"#1972F5", Color{0x19, 0x72, 0xF5, 1}},
		{"#fff", White},
		{" #0eb033 ", Color{0x0E, 0xB0, 0x33, 1}},
		{"rgb(14, 176, 51)", Color{14, 176, 51, 1}},
		{"rgba(255, 255, 255, 0.78)", Color{255, 255, 255, 0.78}},
		{"rgba(0, 0, 0, 0)", Color{0, 0, 0, 0}},
		{"rgb(14 176 51 / 50%)", Color{14, 176, 51, 0.5}},
	} {
		got, err := Parse(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	if c, err := ParseHex("#1972f5"); err != nil || c != (Color{0x19, 0x72, 0xF5, 1}) {
		t.Errorf("ParseHex(#1972f5) = %v, %v", c, err)
	}
	if _, err := ParseHex("rgb(1, 2, 3)"); err == nil || !strings.Contains(err.Error(), "want #rrggbb or #rgb") {
		t.Errorf("ParseHex(rgb(1, 2, 3)): error %v, want one asking for #rrggbb", err)
	}
	if got := (Color{0x19, 0x72, 0xF5, 0.5}).Hex(); got != "#1972F5" {
		t.Errorf("Hex() = %q, want #1972F5", got)
	}
	for _, tt := range []struct{ in, err string }{
		{"red", "want #rrggbb"},
		{"#12345", "want #rrggbb or #rgb"},
		{"#ggghhh", "not hexadecimal"},
		{"rgb(1, 2)", "want 3 or 4 components"},
		{"rgb(1, 2, 300)", `component "300"`},
		{"rgba(1, 2, 3, 2)", `opacity "2"`},
		{"", "want #rrggbb"},
	} {
		if _, err := Parse(tt.in); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("Parse(%q): error %v, want one saying %q", tt.in, err, tt.err)
		}
	}
}

// TestRatio checks the formula against values the WCAG 2 definition gives
// and that common checkers print for these pairs.
func TestRatio(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want float64
	}{
		{"#FFFFFF", "#000000", 21},
		{"#000000", "#FFFFFF", 21},
		{"#777777", "#777777", 1},
		{"#FFFFFF", "#777777", 4.48},
		{"#FFFFFF", "#0EB033", 2.89},
		{"#FFFFFF", "#F18000", 2.68},
		{"#FFFFFF", "#E10000", 5.00},
	} {
		a, _ := Parse(tt.a)
		b, _ := Parse(tt.b)
		if got := Ratio(a, b); math.Abs(got-tt.want) > 0.005 {
			t.Errorf("Ratio(%s, %s) = %.3f, want %.2f", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestOver(t *testing.T) {
	white70 := Color{255, 255, 255, 0.7}
	if got := white70.Over(Black); got != (Color{179, 179, 179, 1}) {
		t.Errorf("70%% white over black = %v, want rgb(179, 179, 179)", got)
	}
	if got := Black.Over(White); got != Black {
		t.Errorf("opaque black over white = %v, want black", got)
	}
	if got := (Color{1, 2, 3, 0}).Over(White); got != White {
		t.Errorf("transparent over white = %v, want white", got)
	}
}

// TestReadableOn: whatever the branding colour, the chosen text reaches AA,
// and white is kept where it reaches AA.
func TestReadableOn(t *testing.T) {
	for r := 0; r < 256; r += 15 {
		for g := 0; g < 256; g += 15 {
			for b := 0; b < 256; b += 15 {
				bg := Color{uint8(r), uint8(g), uint8(b), 1}
				text := ReadableOn(bg)
				if got := Ratio(text, bg); got < AAText {
					t.Fatalf("ReadableOn(%v) = %v: contrast %.2f, want at least %v", bg, text, got, AAText)
				}
				if Ratio(White, bg) >= AAText && text != White {
					t.Fatalf("ReadableOn(%v) = %v, want white, which reaches AA", bg, text)
				}
			}
		}
	}
	blue, _ := Parse("#1972F5") // white reaches only 4.41 on it
	if got := ReadableOn(blue); got != Black {
		t.Errorf("ReadableOn(#1972F5) = %v, want black", got)
	}
}
