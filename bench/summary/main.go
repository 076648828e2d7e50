// Command summary reads `go test -bench` output and prints, for every
// benchmark and metric, the number of runs and the min, median and max
// value, as a Markdown table. Reporter runs are also paired (each vigil run
// with the bare run just before it) into a vigil/bare ratio.
//
//	go run ./bench/summary < bench/out/raw.txt
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// procSuffix is the "-<GOMAXPROCS>" go test appends to benchmark names.
var procSuffix = regexp.MustCompile(`-\d+$`)

func main() {
	type key struct{ bench, unit string }
	var order []key
	values := map[key][]float64{}
	add := func(k key, v float64) {
		if _, ok := values[k]; !ok {
			order = append(order, k)
		}
		values[k] = append(values[k], v)
	}
	lastBare := map[string]float64{} // reporter benchmark → posts/s of its last bare run

	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := procSuffix.ReplaceAllString(f[0], "")
		// f[1] is the iteration count; then value/unit pairs.
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			unit := f[i+1]
			add(key{name, unit}, v)
			if unit != "posts/s" {
				continue
			}
			parent, sub, _ := strings.Cut(name, "/")
			switch sub {
			case "bare":
				lastBare[parent] = v
			case "vigil":
				if b := lastBare[parent]; b > 0 {
					add(key{parent, "vigil/bare"}, v/b)
				}
			}
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}

	fmt.Println("| benchmark | metric | runs | min | median | max |")
	fmt.Println("|---|---|---:|---:|---:|---:|")
	for _, k := range order {
		if k.unit == "ns/op" || k.unit == "B/op" || k.unit == "allocs/op" {
			continue
		}
		vs := slices.Clone(values[k])
		slices.Sort(vs)
		med := vs[len(vs)/2]
		if len(vs)%2 == 0 {
			med = (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
		}
		fmt.Printf("| %s | %s | %d | %s | %s | %s |\n", strings.TrimPrefix(k.bench, "Benchmark"), k.unit, len(vs), num(vs[0]), num(med), num(vs[len(vs)-1]))
	}
}

// num prints three significant digits, without exponent for usual sizes.
func num(v float64) string {
	return strconv.FormatFloat(v, 'g', 4, 64)
}
