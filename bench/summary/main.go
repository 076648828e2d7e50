// Command summary reads `go test -bench` output and prints, for every
// benchmark and metric, the number of runs and the min, median and max
// value, as a Markdown table. Reporter runs are also paired (the i-th vigil run
// with the i-th bare run) into a vigil/bare ratio.
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
	// Reporter runs, by benchmark: go test -count=N runs a sub-benchmark N
	// times in a row, so the i-th vigil run is paired with the i-th bare one.
	bare := map[string][]float64{}
	vigilRuns := map[string]int{}

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
				bare[parent] = append(bare[parent], v)
			case "vigil":
				if i := vigilRuns[parent]; i < len(bare[parent]) {
					add(key{parent, "vigil/bare"}, v/bare[parent][i])
				}
				vigilRuns[parent]++
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
