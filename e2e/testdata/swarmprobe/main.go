// Command swarmprobe is the task of the swarm lab's test, a static binary
// that needs no base image:
//
//	swarmprobe serve PORT        answers every HTTP request with $NODE
//	swarmprobe probe NAME PORT   resolves NAME and prints "ADDR ANSWER" for
//	                             each address, in the order DNS gave them
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	switch {
	case len(os.Args) == 3 && os.Args[1] == "serve":
		node := os.Getenv("NODE")
		err := http.ListenAndServe(":"+os.Args[2], http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, node)
		}))
		fail(err)
	case len(os.Args) == 4 && os.Args[1] == "probe":
		fail(probe(os.Args[2], os.Args[3]))
	default:
		fail(fmt.Errorf("usage: swarmprobe serve PORT | probe NAME PORT"))
	}
}

func probe(name, port string) error {
	addrs, err := net.LookupHost(name)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for _, addr := range addrs {
		resp, err := client.Get("http://" + net.JoinHostPort(addr, port) + "/")
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("read from %s: %w", addr, err)
		}
		fmt.Printf("%s %s\n", addr, body)
	}
	return nil
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "swarmprobe:", err)
		os.Exit(1)
	}
}
