// Command app is the test image's program. Without arguments it serves HTTP
// on :8080: "/" answers "hello <POD_NAME>", "/info" the process's view of
// itself as JSON. "app exit CODE" prints a line and exits with CODE.
// "app sleep" ignores SIGTERM and sleeps until killed.
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 2 && os.Args[1] == "exit" {
		code, _ := strconv.Atoi(os.Args[2])
		fmt.Printf("bye from %s with %d at %s\n", os.Getenv("POD_NAME"), code, time.Now().Format(time.RFC3339Nano))
		os.Exit(code)
	}
	if len(os.Args) > 1 && os.Args[1] == "sleep" {
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("sleeping, ignoring SIGTERM")
		for {
			time.Sleep(time.Hour)
		}
	}
	name := os.Getenv("POD_NAME")
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s\n", name)
	})
	http.HandleFunc("/info", func(w http.ResponseWriter, r *http.Request) {
		host, _ := os.Hostname()
		addrs, err := net.LookupHost(host)
		info := map[string]any{
			"hostname": host,
			"args":     os.Args,
			"env":      os.Environ(),
			"lookup":   addrs,
		}
		if err != nil {
			info["lookupError"] = err.Error()
		}
		json.NewEncoder(w).Encode(info)
	})
	fmt.Printf("listening on :8080 as %s\n", name)
	if err := http.ListenAndServe(":8080", nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
