// A Go HTTP server built from the standard library only, with
// net/http/pprof mounted: the target of loadprof's pprof tests.
// It prints "listening on PORT" once it accepts connections.
package main

import (
	"crypto/sha256"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"strconv"
	"sync"
)

var (
	mu       sync.Mutex
	retained [][]byte
)

//go:noinline
func hashLoop(n int) [32]byte {
	sum := sha256.Sum256([]byte("loadprof"))
	for i := 0; i < n; i++ {
		sum = sha256.Sum256(sum[:])
	}
	return sum
}

func burnHandler(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil || n <= 0 {
		n = 20000
	}
	sum := hashLoop(n)
	fmt.Fprintf(w, "%x\n", sum[:4])
}

//go:noinline
func retainChunk(size int) {
	buf := make([]byte, size)
	for i := range buf {
		buf[i] = byte(i)
	}
	mu.Lock()
	retained = append(retained, buf)
	mu.Unlock()
}

func retainHandler(w http.ResponseWriter, r *http.Request) {
	retainChunk(64 << 10)
	fmt.Fprintln(w, "ok")
}

func main() {
	// Sample every 4 KiB allocated (Go's default is 512 KiB), so the heap
	// profile accounts for the retained chunks almost exactly.
	runtime.MemProfileRate = 4096
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	http.HandleFunc("/burn", burnHandler)
	http.HandleFunc("/retain", retainHandler)
	http.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	fmt.Printf("listening on %d\n", ln.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync()
	if err := http.Serve(ln, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
