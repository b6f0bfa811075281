package scheduler

import "testing"

func TestPolicyScores(t *testing.T) {
	most, least := MostAllocated{}, LeastAllocated{}
	if most.Name() != NameMostAllocated || least.Name() != NameLeastAllocated {
		t.Errorf("names %q %q", most.Name(), least.Name())
	}
	cases := []struct {
		name               string
		allocCPU, allocMem int64
		usedCPU, usedMem   string // requests of a pod already there
		cpu, mem           string // the pod's requests
		most, least        int64
	}{
		{"empty node, no requests", 4000, 4 << 30, "", "", "", "", 0, 100},
		{"half of each once placed", 4000, 4 << 30, "1", "1Gi", "1", "1Gi", 50, 50},
		{"cpu full, memory empty", 4000, 4 << 30, "3", "", "1", "", 50, 50},
		{"a quarter of cpu, three quarters of memory", 4000, 4 << 30, "", "", "1", "3Gi", (25 + 75) / 2, (75 + 25) / 2},
		{"full node", 4000, 4 << 30, "4", "4Gi", "", "", 100, 0},
		{"over-committed stays within 0..100", 4000, 4 << 30, "8", "8Gi", "1", "1Gi", 100, 0},
		{"nothing allocatable", 0, 0, "", "", "", "", 0, 0},
	}
	for _, tc := range cases {
		n := testNode("n1", tc.allocCPU, tc.allocMem, 0)
		if tc.usedCPU != "" || tc.usedMem != "" {
			on(n, testPod(requests(nonEmpty("cpu", tc.usedCPU, "memory", tc.usedMem)...)))
		}
		p := testPod(requests(nonEmpty("cpu", tc.cpu, "memory", tc.mem)...))
		if got := most.Score(p, n); got != tc.most {
			t.Errorf("%s: MostAllocated %d, want %d", tc.name, got, tc.most)
		}
		if got := least.Score(p, n); got != tc.least {
			t.Errorf("%s: LeastAllocated %d, want %d", tc.name, got, tc.least)
		}
	}
}

// nonEmpty keeps the key/value pairs whose value is set.
func nonEmpty(kv ...string) []string {
	var out []string
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			out = append(out, kv[i], kv[i+1])
		}
	}
	return out
}
