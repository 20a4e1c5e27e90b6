// A Go HTTP server built from the standard library only, with
// net/http/pprof mounted: the target of loadprof's pprof tests and of the
// agent-core-gate profile.
//
//	GET  /burn?n=N   hashes N times (CPU work)
//	GET  /retain     keeps 64 KiB forever (a heap leak)
//	GET  /churn      allocates 1 MiB, uses it and lets it go (no leak)
//	POST /search     {"query": "...", "top_k": 3}: the top_k documents of an
//	                 in-memory corpus by BM25, reranked, as a JSON list
//	GET  /health     ok
//	GET  /metrics    Prometheus text: search_duration_seconds (a histogram),
//	                 search_requests_total by status code, go_goroutines
//	                 and go_memstats_heap_alloc_bytes
//	/debug/pprof/    CPU and heap profiles
//
// It listens on 127.0.0.1 (-port N, default 0: a free port) and prints
// "listening on PORT" once it accepts connections.
package main

import (
	"container/heap"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

var (
	mu       sync.Mutex
	retained [][]byte
)

// The search metrics, written in the Prometheus text format by hand (the
// standard library has no client).
var (
	metricsMu     sync.Mutex
	searchBounds  = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}
	searchBuckets = make([]uint64, len(searchBounds)+1)
	searchSum     float64
	searchCodes   = map[int]uint64{}
)

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// timed records a handler's latency and status in the search metrics.
func timed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		sw := &statusWriter{w, http.StatusOK}
		h(sw, r)
		took := time.Since(t0).Seconds()
		metricsMu.Lock()
		defer metricsMu.Unlock()
		for i, b := range searchBounds {
			if took <= b {
				searchBuckets[i]++
			}
		}
		searchBuckets[len(searchBounds)]++
		searchSum += took
		searchCodes[sw.code]++
	}
}

func metricsHandler(w http.ResponseWriter, r *http.Request) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	metricsMu.Lock()
	defer metricsMu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	fmt.Fprintln(w, "# HELP search_duration_seconds Time to answer a search.")
	fmt.Fprintln(w, "# TYPE search_duration_seconds histogram")
	for i, b := range searchBounds {
		fmt.Fprintf(w, "search_duration_seconds_bucket{le=\"%s\"} %d\n", strconv.FormatFloat(b, 'g', -1, 64), searchBuckets[i])
	}
	n := searchBuckets[len(searchBounds)]
	fmt.Fprintf(w, "search_duration_seconds_bucket{le=\"+Inf\"} %d\n", n)
	fmt.Fprintf(w, "search_duration_seconds_sum %g\nsearch_duration_seconds_count %d\n", searchSum, n)
	fmt.Fprintln(w, "# HELP search_requests_total Searches answered, by status code.")
	fmt.Fprintln(w, "# TYPE search_requests_total counter")
	codes := make([]int, 0, len(searchCodes))
	for c := range searchCodes {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		fmt.Fprintf(w, "search_requests_total{code=\"%d\"} %d\n", c, searchCodes[c])
	}
	fmt.Fprintln(w, "# HELP go_goroutines Number of goroutines that currently exist.")
	fmt.Fprintln(w, "# TYPE go_goroutines gauge")
	fmt.Fprintf(w, "go_goroutines %d\n", runtime.NumGoroutine())
	fmt.Fprintln(w, "# HELP go_memstats_heap_alloc_bytes Bytes allocated on the heap and still in use.")
	fmt.Fprintln(w, "# TYPE go_memstats_heap_alloc_bytes gauge")
	fmt.Fprintf(w, "go_memstats_heap_alloc_bytes %d\n", ms.HeapAlloc)
}

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

var churned int

//go:noinline
func churnChunk(size int) int {
	buf := make([]byte, size)
	for i := range buf {
		buf[i] = byte(i)
	}
	return int(buf[size/2])
}

func churnHandler(w http.ResponseWriter, r *http.Request) {
	mu.Lock()
	churned += churnChunk(1 << 20)
	mu.Unlock()
	fmt.Fprintln(w, "ok")
}

// The search corpus: generated documents and a BM25 index over them.
var themes = [][]string{
	strings.Fields("agent tool call plan step memory context retrieval answer reasoning task goal"),
	strings.Fields("search index query ranking document term score relevance token vector embedding"),
	strings.Fields("latency throughput request queue timeout retry budget slo percentile tail"),
	strings.Fields("go goroutine channel mutex heap garbage collector allocation profile pprof"),
	strings.Fields("weather city travel flight hotel booking price date calendar reminder"),
}

var glue = strings.Fields("the a of and to in is for on with how what when why")

type doc struct {
	id    int
	title string
	words []string
}

type corpus struct {
	docs     []doc
	postings map[string]map[int]int
	lengths  []int
	avgLen   float64
	idf      map[string]float64
}

func newCorpus(n int, seed int64) *corpus {
	rng := rand.New(rand.NewSource(seed))
	c := &corpus{postings: map[string]map[int]int{}}
	total := 0
	for i := 0; i < n; i++ {
		main := themes[rng.Intn(len(themes))]
		count := 60 + rng.Intn(80)
		words := make([]string, 0, count)
		for j := 0; j < count; j++ {
			r := rng.Float64()
			switch {
			case r < 0.35:
				words = append(words, glue[rng.Intn(len(glue))])
			case r < 0.85:
				words = append(words, main[rng.Intn(len(main))])
			default:
				other := themes[rng.Intn(len(themes))]
				words = append(words, other[rng.Intn(len(other))])
			}
		}
		title := main[rng.Intn(len(main))] + " " + main[rng.Intn(len(main))]
		c.docs = append(c.docs, doc{id: i, title: title, words: words})
		for _, w := range words {
			p := c.postings[w]
			if p == nil {
				p = map[int]int{}
				c.postings[w] = p
			}
			p[i]++
		}
		c.lengths = append(c.lengths, len(words))
		total += len(words)
	}
	c.avgLen = float64(total) / float64(n)
	c.idf = map[string]float64{}
	for t, p := range c.postings {
		df := float64(len(p))
		c.idf[t] = math.Log(1 + (float64(n)-df+0.5)/(df+0.5))
	}
	return c
}

func tokenize(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

//go:noinline
func (c *corpus) scoreDocuments(terms []string) map[int]float64 {
	const k1, b = 1.2, 0.75
	scores := map[int]float64{}
	for _, t := range terms {
		for d, tf := range c.postings[t] {
			norm := k1 * (1 - b + b*float64(c.lengths[d])/c.avgLen)
			scores[d] += c.idf[t] * float64(tf) * (k1 + 1) / (float64(tf) + norm)
		}
	}
	return scores
}

type hit struct {
	ID      int     `json:"id"`
	Title   string  `json:"title"`
	Score   float64 `json:"score"`
	Snippet string  `json:"snippet"`
}

type hitHeap []hit

func (h hitHeap) Len() int            { return len(h) }
func (h hitHeap) Less(i, j int) bool  { return h[i].Score < h[j].Score }
func (h hitHeap) Swap(i, j int)       { h[i], h[j] = h[j], h[i] }
func (h *hitHeap) Push(x interface{}) { *h = append(*h, x.(hit)) }
func (h *hitHeap) Pop() interface{} {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// rerank adds a small, deterministic query-document signal to the BM25
// score of the best candidates (standing in for a cross-encoder).
//
//go:noinline
func (c *corpus) rerank(query string, scores map[int]float64, keep int) []hit {
	h := &hitHeap{}
	for d, s := range scores {
		heap.Push(h, hit{ID: d, Score: s})
		if h.Len() > keep {
			heap.Pop(h)
		}
	}
	out := make([]hit, 0, h.Len())
	for _, cand := range *h {
		sum := sha256.Sum256([]byte(query + "\x00" + c.docs[cand.ID].title))
		for i := 0; i < 200; i++ {
			sum = sha256.Sum256(sum[:])
		}
		bonus := float64(binary.BigEndian.Uint16(sum[:2])) / 65535 * 0.1
		cand.Score = math.Round((cand.Score+bonus)*1e4) / 1e4
		cand.Title = c.docs[cand.ID].title
		out = append(out, cand)
	}
	return out
}

//go:noinline
func (c *corpus) search(query string, topK int) []hit {
	terms := tokenize(query)
	scores := c.scoreDocuments(terms)
	hits := c.rerank(query, scores, 4*topK)
	// Best first; ties by id so answers are stable.
	for i := 1; i < len(hits); i++ {
		for j := i; j > 0 && (hits[j].Score > hits[j-1].Score ||
			hits[j].Score == hits[j-1].Score && hits[j].ID < hits[j-1].ID); j-- {
			hits[j], hits[j-1] = hits[j-1], hits[j]
		}
	}
	if len(hits) > topK {
		hits = hits[:topK]
	}
	wanted := map[string]bool{}
	for _, t := range terms {
		wanted[t] = true
	}
	for i := range hits {
		hits[i].Snippet = snippet(c.docs[hits[i].ID].words, wanted, 12)
	}
	return hits
}

// snippet is the window of width words holding the most query terms.
func snippet(words []string, wanted map[string]bool, width int) string {
	if len(words) <= width {
		return strings.Join(words, " ")
	}
	best, at, run := -1, 0, 0
	for i, w := range words {
		if wanted[w] {
			run++
		}
		if i >= width && wanted[words[i-width]] {
			run--
		}
		if i >= width-1 && run > best {
			best, at = run, i-width+1
		}
	}
	return strings.Join(words[at:at+width], " ")
}

var docs = newCorpus(4000, 42)

type searchRequest struct {
	Query string `json:"query"`
	TopK  *int   `json:"top_k"`
}

func searchHandler(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, `{"error": "use POST with JSON {\"query\": str, \"top_k\": int}"}`, http.StatusMethodNotAllowed)
		return
	}
	var req searchRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	if err := dec.Decode(&req); err != nil || strings.TrimSpace(req.Query) == "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintln(w, `{"error": "expected JSON {\"query\": str, \"top_k\": int}"}`)
		return
	}
	topK := 5
	if req.TopK != nil {
		topK = *req.TopK
	}
	if topK < 1 || topK > 100 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintln(w, `{"error": "top_k must be from 1 to 100"}`)
		return
	}
	hits := docs.search(req.Query, topK)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(hits)
}

func main() {
	port := flag.Int("port", 0, "port on 127.0.0.1 (0: pick a free one)")
	flag.Parse()
	// Sample every 4 KiB allocated (Go's default is 512 KiB), so the heap
	// profile accounts for the retained chunks almost exactly.
	runtime.MemProfileRate = 4096
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	http.HandleFunc("/burn", burnHandler)
	http.HandleFunc("/retain", retainHandler)
	http.HandleFunc("/churn", churnHandler)
	http.HandleFunc("/search", timed(searchHandler))
	http.HandleFunc("/metrics", metricsHandler)
	http.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	fmt.Printf("listening on %d\n", ln.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync()
	if err := http.Serve(ln, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
