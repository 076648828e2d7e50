package store

import (
	"fmt"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// A SampleBatch holds samples already folded into the per-minute and
// per-hour buckets they fall into. Holding and writing many samples of one
// replica then costs one row per bucket, not one per sample: a recorder can
// gather minutes of samples in memory bounded by the number of replicas, and
// write them in one short transaction (Store.AddBatch).
//
// The zero value is an empty batch. A SampleBatch is not safe for concurrent
// use.
type SampleBatch struct {
	minutes map[bucketKey]*Bucket
	hours   map[bucketKey]*Bucket
	samples int
}

// Add folds one sample into the batch. A sample without a time, a name or a
// valid health, with a name CheckText refuses, or with a negative latency, is
// refused with ErrInvalid and leaves the batch as it was.
func (b *SampleBatch) Add(x Sample) error {
	if x.Time.IsZero() || x.Service == "" || x.Node == "" || x.Replica == "" || !validHealth(x.Health) || x.Latency < 0 {
		return fmt.Errorf("sample %+v: %w", x, ErrInvalid)
	}
	if err := checkTexts("sample", x.Service, x.Node, x.Replica); err != nil {
		return err
	}
	if b.minutes == nil {
		b.minutes, b.hours = map[bucketKey]*Bucket{}, map[bucketKey]*Bucket{}
	}
	one := Bucket{}
	switch x.Health {
	case status.Healthy:
		one.Healthy = 1
	case status.Sick:
		one.Sick = 1
	case status.Dead:
		one.Dead = 1
	}
	if x.HasLatency {
		one.LatencyCount, one.LatencyMin, one.LatencyMax, one.LatencySum = 1, x.Latency, x.Latency, x.Latency
	}
	series := seriesKey{x.Service, x.Node, x.Replica}
	fold(b.minutes, bucketKey{series, ms(x.Time.Truncate(time.Minute))}, one)
	fold(b.hours, bucketKey{series, ms(x.Time.Truncate(time.Hour))}, one)
	b.samples++
	return nil
}

func fold(buckets map[bucketKey]*Bucket, k bucketKey, one Bucket) {
	if b := buckets[k]; b != nil {
		b.add(one)
		return
	}
	buckets[k] = &one
}

// Empty tells whether the batch holds no bucket.
func (b *SampleBatch) Empty() bool { return len(b.minutes) == 0 && len(b.hours) == 0 }

// Samples returns how many samples the batch holds.
func (b *SampleBatch) Samples() int { return b.samples }

// Buckets returns how many minute buckets the batch holds: the rows it
// writes, and the measure of its memory.
func (b *SampleBatch) Buckets() int { return len(b.minutes) }

// DropOldestMinutes removes the oldest minute buckets until at most keep
// remain, and returns how many samples went with them. The hour buckets keep
// those samples: only the minute detail is lost. Hour buckets beyond keep go
// too, oldest first.
func (b *SampleBatch) DropOldestMinutes(keep int) (dropped int) {
	dropped = dropOldest(b.minutes, keep)
	b.samples -= dropped
	dropOldest(b.hours, keep)
	return dropped
}

// dropOldest deletes whole periods, oldest first, until at most keep buckets
// remain, and returns the samples they held.
func dropOldest(buckets map[bucketKey]*Bucket, keep int) (samples int) {
	for len(buckets) > max(keep, 0) {
		oldest := int64(0)
		first := true
		for k := range buckets {
			if first || k.start < oldest {
				oldest, first = k.start, false
			}
		}
		for k, bk := range buckets {
			if k.start == oldest {
				samples += int(bk.Checks())
				delete(buckets, k)
			}
		}
	}
	return samples
}

// Split divides the batch by series into two batches, each holding every
// bucket of its series, so that a writer can find the series a database
// refuses. It reports false when b holds fewer than two series. b is left
// as it was.
func (b *SampleBatch) Split() (first, second *SampleBatch, ok bool) {
	var series []seriesKey
	seen := map[seriesKey]bool{}
	for k := range b.hours { // every sample is in an hour bucket
		if !seen[k.series] {
			seen[k.series] = true
			series = append(series, k.series)
		}
	}
	if len(series) < 2 {
		return nil, nil, false
	}
	inFirst := map[seriesKey]bool{}
	for _, s := range series[:len(series)/2] {
		inFirst[s] = true
	}
	first, second = &SampleBatch{}, &SampleBatch{}
	pick := func(k bucketKey) *SampleBatch {
		if inFirst[k.series] {
			return first
		}
		return second
	}
	for k, bk := range b.minutes {
		part := pick(k)
		part.foldBucket(true, k, *bk)
		part.samples += int(bk.Checks())
	}
	for k, bk := range b.hours {
		pick(k).foldBucket(false, k, *bk)
	}
	return first, second, true
}

// Merge folds o's buckets into b.
func (b *SampleBatch) Merge(o *SampleBatch) {
	for k, bk := range o.minutes {
		b.foldBucket(true, k, *bk)
	}
	for k, bk := range o.hours {
		b.foldBucket(false, k, *bk)
	}
	b.samples += o.samples
}

// foldBucket folds one bucket into the minute or the hour buckets.
func (b *SampleBatch) foldBucket(minute bool, k bucketKey, bk Bucket) {
	if b.minutes == nil {
		b.minutes, b.hours = map[bucketKey]*Bucket{}, map[bucketKey]*Bucket{}
	}
	if minute {
		fold(b.minutes, k, bk)
	} else {
		fold(b.hours, k, bk)
	}
}
