package meshsim

import "container/heap"

// event is something that happens at a simulated time; seq orders events
// of the same time by when they were scheduled, so runs are repeatable.
type event struct {
	at  int64 // simulated nanoseconds
	seq uint64
	do  func()
}

// events is a min-heap of events by (at, seq).
type events []event

func (q events) Len() int { return len(q) }
func (q events) Less(i, j int) bool {
	return q[i].at < q[j].at || q[i].at == q[j].at && q[i].seq < q[j].seq
}
func (q events) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *events) Push(x any)   { *q = append(*q, x.(event)) }
func (q *events) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

var _ heap.Interface = (*events)(nil)
