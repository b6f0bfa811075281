package scheduler_test

import (
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/services/scheduler"
)

func TestLeastAllocatedScore(t *testing.T) {
	s := scheduler.LeastAllocated{}
	if s.Name() != "LeastAllocated" {
		t.Errorf("name = %q", s.Name())
	}
	cases := []struct {
		name             string
		allocCPU         int64
		allocMem         int64
		usedCPU, usedMem int64
		cpu, mem         string
		want             int64
	}{
		{"empty node, no requests", 4000, 4 << 30, 0, 0, "", "", 100},
		{"half of each once placed", 4000, 4 << 30, 1000, 1 << 30, "1", "1Gi", 50},
		{"cpu full, memory empty", 4000, 4 << 30, 3000, 0, "1", "", 50},
		{"a quarter left of cpu, three quarters of memory", 4000, 4 << 30, 0, 0, "3", "1Gi", (25 + 75) / 2},
		{"full node", 4000, 4 << 30, 4000, 4 << 30, "", "", 0},
		{"over-committed is zero, not negative", 4000, 4 << 30, 8000, 8 << 30, "1", "1Gi", 0},
		{"nothing allocatable", 0, 0, 0, 0, "", "", 0},
	}
	for _, tc := range cases {
		n := node("n1", tc.allocCPU, tc.allocMem, 0)
		n.Requested[events.ResourceCPU] = tc.usedCPU
		n.Requested[events.ResourceMemory] = tc.usedMem
		got := s.Score(podRequesting(tc.cpu, tc.mem, nil), n)
		if got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
		if got < 0 || got > 100 {
			t.Errorf("%s: %d out of [0, 100]", tc.name, got)
		}
	}
}
