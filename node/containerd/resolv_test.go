package containerd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const hostResolv = "# from DHCP\nnameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch corp.example lab.example\noptions edns0\n"

func TestPodResolvConf(t *testing.T) {
	cluster := Config{DNSServers: []string{"10.42.0.1"}, ClusterDomain: "gantry.local"}
	many := make([]string, 40)
	for i := range many {
		many[i] = strings.Repeat("x", 60) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ".example"
	}
	tests := []struct {
		name string
		cfg  Config
		host string
		ns   string
		want string
	}{
		{"ClusterFirst: the namespace's search path, then the host's", cluster, hostResolv, "shop",
			"nameserver 10.42.0.1\nsearch shop.svc.gantry.local svc.gantry.local gantry.local corp.example lab.example\noptions ndots:5\n"},
		{"another namespace, another path", cluster, hostResolv, "default",
			"nameserver 10.42.0.1\nsearch default.svc.gantry.local svc.gantry.local gantry.local corp.example lab.example\noptions ndots:5\n"},
		{"configured search domains replace the host's", Config{DNSServers: []string{"10.42.0.1"}, ClusterDomain: "cluster.test.",
			DNSSearch: []string{"corp.example", "svc.cluster.test"}, DNSOptions: []string{"ndots:2", "timeout:1"}}, hostResolv, "a",
			"nameserver 10.42.0.1\nsearch a.svc.cluster.test svc.cluster.test cluster.test corp.example\noptions ndots:2 timeout:1\n"},
		{"no host resolv.conf", cluster, "", "shop",
			"nameserver 10.42.0.1\nsearch shop.svc.gantry.local svc.gantry.local gantry.local\noptions ndots:5\n"},
		{"servers without a cluster domain", Config{DNSServers: []string{"192.0.2.1", "192.0.2.2"}, DNSSearch: []string{"a.example"}}, hostResolv, "shop",
			"nameserver 192.0.2.1\nnameserver 192.0.2.2\nsearch a.example\n"},
		{"no servers: the host's without loopback", Config{ClusterDomain: "gantry.local"}, hostResolv, "shop",
			"nameserver 192.0.2.53\nsearch corp.example lab.example\noptions edns0\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var host []byte
			if tt.host != "" {
				host = []byte(tt.host)
			}
			got := string(podResolvConf(tt.cfg, tt.ns, host))
			if want := "# managed by gantry\n" + tt.want; got != want {
				t.Fatalf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
	t.Run("Kubernetes' limit of 32 search domains", func(t *testing.T) {
		cfg := cluster
		cfg.DNSSearch = many
		got := string(podResolvConf(cfg, "shop", nil))
		line := strings.Fields(strings.Split(got, "\n")[2])
		if line[0] != "search" || len(line)-1 > maxSearchDomains || len(strings.Join(line[1:], " ")) > maxSearchListChars {
			t.Fatalf("search line of %d domains, %d chars", len(line)-1, len(strings.Join(line[1:], " ")))
		}
		if line[1] != "shop.svc.gantry.local" {
			t.Fatalf("the cluster's domains come first: %v", line[1:4])
		}
	})
}

// Each pod's sandbox has its own resolv.conf, the one its containers
// bind-mount at /etc/resolv.conf.
func TestWritePodFilesResolvConf(t *testing.T) {
	dir := t.TempDir()
	host := filepath.Join(dir, "host-resolv.conf")
	if err := os.WriteFile(host, []byte(hostResolv), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Config{StateDir: dir, DNSServers: []string{"10.42.0.1"}, ClusterDomain: "gantry.local", ResolvConf: host}
	cfg.setDefaults()
	r := &Runtime{cfg: cfg}
	for _, p := range []struct{ id, ns string }{{"sb-a", "shop"}, {"sb-b", "default"}} {
		if err := os.MkdirAll(r.sandboxDir(p.id), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := r.writePodFiles(p.id, p.ns, "pod", "10.42.0.5"); err != nil {
			t.Fatal(err)
		}
	}
	for id, want := range map[string]string{
		"sb-a": "# managed by gantry\nnameserver 10.42.0.1\nsearch shop.svc.gantry.local svc.gantry.local gantry.local corp.example lab.example\noptions ndots:5\n",
		"sb-b": "# managed by gantry\nnameserver 10.42.0.1\nsearch default.svc.gantry.local svc.gantry.local gantry.local corp.example lab.example\noptions ndots:5\n",
	} {
		got, err := os.ReadFile(r.resolvPath(id))
		if err != nil || string(got) != want {
			t.Fatalf("%s resolv.conf: %v\n%s\nwant\n%s", id, err, got, want)
		}
	}
}
