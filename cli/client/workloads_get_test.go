package client

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Every workload kind through get, as kubectl prints it: short names, the
// kind's columns, -o wide, name, json and yaml, -l, -A, and get all.
func TestGetWorkloadKindsAgainstNATS(t *testing.T) {
	c := newReadCluster(t)
	created := time.Now().Add(-3 * time.Hour)
	c.seed(t, created)
	c.seedWorkloads(t, created)
	rs := helloRSName()

	expect := func(t *testing.T, line string, wantCode int, wantOut, wantErr string) {
		t.Helper()
		code, out, errOut := c.gantry(strings.Fields(line)...)
		if code != wantCode || out != wantOut || errOut != wantErr {
			t.Errorf("gantry %s: exit %d, stdout\n%s\nstderr %q\nwant exit %d, stdout\n%s\nstderr %q",
				line, code, out, errOut, wantCode, wantOut, wantErr)
		}
	}
	t.Run("replicasets", func(t *testing.T) {
		want := "NAME               DESIRED   CURRENT   READY   AGE\n" +
			"hello-6d8f7b9c4x   0         0         0       4h\n" +
			rs + "   3         3         2       3h\n"
		expect(t, "get rs", 0, want, "")
		expect(t, "get replicasets.apps", 0, want, "")
		expect(t, "get rs "+rs+" -o wide", 0,
			"NAME               DESIRED   CURRENT   READY   AGE   CONTAINERS   IMAGES       SELECTOR\n"+
				rs+"   3         3         2       3h    web          nginx:1.25   app=hello,pod-template-hash="+rs[len("hello-"):]+"\n", "")
		expect(t, "get rs -o name", 0, "replicaset.apps/hello-6d8f7b9c4x\nreplicaset.apps/"+rs+"\n", "")
		expect(t, "get rs -l pod-template-hash=6d8f7b9c4x -o name", 0, "replicaset.apps/hello-6d8f7b9c4x\n", "")
		expect(t, "get rs -A -o name", 0, "replicaset.apps/hello-6d8f7b9c4x\nreplicaset.apps/"+rs+"\n", "")
	})
	t.Run("daemonsets", func(t *testing.T) {
		expect(t, "get ds", 0, "NAME    DESIRED   CURRENT   READY   UP-TO-DATE   AVAILABLE   NODE SELECTOR   AGE\n"+
			"agent   2         2         1       2            1           zone=a          3h\n", "")
		expect(t, "get daemonset -A -o wide", 0,
			"NAMESPACE   NAME    DESIRED   CURRENT   READY   UP-TO-DATE   AVAILABLE   NODE SELECTOR   AGE   CONTAINERS   IMAGES     SELECTOR\n"+
				"default     agent   2         2         1       2            1           zone=a          3h    agent        agent:v2   app=agent\n", "")
	})
	t.Run("jobs", func(t *testing.T) {
		expect(t, "get jobs", 0, "NAME         STATUS     COMPLETIONS   DURATION   AGE\n"+
			"pi           Running    3/5           3h         3h\n"+
			"report-100   Complete   1/1           12s        3h\n", "")
		expect(t, "get job.batch pi -o wide", 0, "NAME   STATUS    COMPLETIONS   DURATION   AGE   CONTAINERS   IMAGES      SELECTOR\n"+
			"pi     Running   3/5           3h         3h    pi           perl:5.34   <none>\n", "")
		expect(t, "get jobs -l team=ops -o name", 0, "job.batch/report-100\n", "")
	})
	t.Run("cronjobs", func(t *testing.T) {
		expect(t, "get cj", 0, "NAME     SCHEDULE      TIMEZONE       SUSPEND   ACTIVE   LAST SCHEDULE   AGE\n"+
			"report   */5 * * * *   Europe/Paris   False     1        3h              3h\n", "")
		expect(t, "get cronjobs -o wide", 0,
			"NAME     SCHEDULE      TIMEZONE       SUSPEND   ACTIVE   LAST SCHEDULE   AGE   CONTAINERS   IMAGES\n"+
				"report   */5 * * * *   Europe/Paris   False     1        3h              3h    pi           perl:5.34\n", "")
	})
	t.Run("json and yaml", func(t *testing.T) {
		for _, tc := range []struct{ line, apiVersion, kind, status string }{
			{"get rs " + rs + " -o json", "apps/v1", "ReplicaSet", `"readyReplicas":2`},
			{"get ds agent -o json", "apps/v1", "DaemonSet", `"desiredNumberScheduled":2`},
			{"get job pi -o json", "batch/v1", "Job", `"succeeded":3`},
			{"get job report-100 -o json", "batch/v1", "Job", `"type":"Complete"`},
			{"get cj report -o json", "batch/v1", "CronJob", `"name":"report-100"`},
		} {
			code, out, errOut := c.gantry(strings.Fields(tc.line)...)
			var obj struct {
				APIVersion, Kind string
				Status           json.RawMessage
			}
			if err := json.Unmarshal([]byte(out), &obj); err != nil || code != 0 {
				t.Fatalf("%s: exit %d, %v, stderr %q:\n%s", tc.line, code, err, errOut, out)
			}
			compact, _ := json.Marshal(obj.Status)
			if obj.APIVersion != tc.apiVersion || obj.Kind != tc.kind || !strings.Contains(string(compact), tc.status) {
				t.Errorf("%s: %s %s, status %s", tc.line, obj.APIVersion, obj.Kind, compact)
			}
		}
		_, out, _ := c.gantry("get", "job", "pi", "-o", "yaml")
		if !strings.HasPrefix(out, "apiVersion: batch/v1\nkind: Job\n") || !strings.Contains(out, "  completions: 5\n") {
			t.Errorf("yaml:\n%s", out)
		}
	})
	t.Run("get all", func(t *testing.T) {
		code, out, errOut := c.gantry("get", "all")
		want := "NAME                         READY   STATUS    RESTARTS   AGE\n" +
			"pod/big-xyz                  0/1     Pending   0          3h\n" +
			"pod/hello-abc12              1/1     Running   2          3h\n" +
			"pod/" + rs + "-aaaaa   1/1     Running   2          3h\n" +
			"pod/" + rs + "-bbbbb   1/1     Running   2          3h\n" +
			"pod/pi-x1                    1/1     Running   2          3h\n" +
			"pod/pi-x2                    1/1     Running   2          3h\n" +
			"\n" +
			"NAME                   DESIRED   CURRENT   READY   UP-TO-DATE   AVAILABLE   NODE SELECTOR   AGE\n" +
			"daemonset.apps/agent   2         2         1       2            1           zone=a          3h\n" +
			"\n" +
			"NAME                    READY   UP-TO-DATE   AVAILABLE   AGE\n" +
			"deployment.apps/hello   2/3     3            2           3h\n" +
			"\n" +
			"NAME                               DESIRED   CURRENT   READY   AGE\n" +
			"replicaset.apps/hello-6d8f7b9c4x   0         0         0       4h\n" +
			"replicaset.apps/" + rs + "   3         3         2       3h\n" +
			"\n" +
			"NAME                   SCHEDULE      TIMEZONE       SUSPEND   ACTIVE   LAST SCHEDULE   AGE\n" +
			"cronjob.batch/report   */5 * * * *   Europe/Paris   False     1        3h              3h\n" +
			"\n" +
			"NAME                   STATUS     COMPLETIONS   DURATION   AGE\n" +
			"job.batch/pi           Running    3/5           3h         3h\n" +
			"job.batch/report-100   Complete   1/1           12s        3h\n"
		if code != 0 || out != want || errOut != "" {
			t.Errorf("exit %d, stderr %q, stdout\n%s\nwant\n%s", code, errOut, out, want)
		}
		expect(t, "get all -n shop -o name", 0, "pod/web-1\n", "")
		expect(t, "get all -n nothing", 0, "", "No resources found in nothing namespace.\n")
		expect(t, "get all -A -l app=agent", 0,
			"NAMESPACE   NAME                   DESIRED   CURRENT   READY   UP-TO-DATE   AVAILABLE   NODE SELECTOR   AGE\n"+
				"default     daemonset.apps/agent   2         2         1       2            1           zone=a          3h\n", "")
		expect(t, "get all -A -l app=none", 0, "", "No resources found\n")
	})
}
