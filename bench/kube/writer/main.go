// Command writer PATCHes a label on a namespace's pods at a fixed rate, for the
// watch-latency benchmarks. It is bench_kube's `write` mode in Go: the Qt writer
// spends ~3 ms of CPU per PATCH in its event loop, which on a 2-core machine
// takes the cores the API server needs; Go's HTTP/2 client costs a small
// fraction of that, so the server, not the writer, sets the pace.
//
//	writer KUBECONFIG NS RATE SECONDS INFLIGHT OUT [SHARD SHARDS]
//
// Same arguments, output file ("resourceVersion monotonic-ns" per response,
// CLOCK_MONOTONIC like the C++ side's steady_clock) and JSON report line as
// `bench_kube write`. The kubeconfig is read through `kubectl config view
// --raw --minify` ($KUBECTL), so only what kubectl resolves is used.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

func monotonicNs() int64 {
	var ts syscall.Timespec
	const clockMonotonic = 1
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Sec*1e9 + ts.Nsec
}

type kubeconfig struct {
	Clusters []struct {
		Cluster struct {
			Server string `json:"server"`
			CAData string `json:"certificate-authority-data"`
			CAFile string `json:"certificate-authority"`
		} `json:"cluster"`
	} `json:"clusters"`
	Users []struct {
		User struct {
			CertData string `json:"client-certificate-data"`
			CertFile string `json:"client-certificate"`
			KeyData  string `json:"client-key-data"`
			KeyFile  string `json:"client-key"`
			Token    string `json:"token"`
		} `json:"user"`
	} `json:"users"`
}

func pem(data, file string) []byte {
	if data != "" {
		b, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			fail("bad base64 in kubeconfig: %v", err)
		}
		return b
	}
	if file == "" {
		return nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		fail("%v", err)
	}
	return b
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "writer: "+format+"\n", args...)
	os.Exit(1)
}

func client(path string) (*http.Client, string, string) {
	kubectl := os.Getenv("KUBECTL")
	if kubectl == "" {
		kubectl = "kubectl"
	}
	out, err := exec.Command(kubectl, "--kubeconfig", path, "config", "view", "--raw", "--minify", "-o", "json").Output()
	if err != nil {
		fail("kubectl config view: %v", err)
	}
	var kc kubeconfig
	if err := json.Unmarshal(out, &kc); err != nil || len(kc.Clusters) == 0 || len(kc.Users) == 0 {
		fail("cannot read %s: %v", path, err)
	}
	c, u := kc.Clusters[0].Cluster, kc.Users[0].User
	cfg := &tls.Config{}
	if ca := pem(c.CAData, c.CAFile); ca != nil {
		cfg.RootCAs = x509.NewCertPool()
		cfg.RootCAs.AppendCertsFromPEM(ca)
	}
	if cert := pem(u.CertData, u.CertFile); cert != nil {
		pair, err := tls.X509KeyPair(cert, pem(u.KeyData, u.KeyFile))
		if err != nil {
			fail("client certificate: %v", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 4}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}, strings.TrimRight(c.Server, "/"), u.Token
}

func main() {
	a := os.Args
	if len(a) != 7 && len(a) != 9 {
		fail("usage: writer KUBECONFIG NS RATE SECONDS INFLIGHT OUT [SHARD SHARDS]")
	}
	ns := a[2]
	rate, _ := strconv.Atoi(a[3])
	seconds, _ := strconv.Atoi(a[4])
	inflightMax, _ := strconv.Atoi(a[5])
	shard, shards := 0, 1
	if len(a) == 9 {
		shard, _ = strconv.Atoi(a[7])
		shards, _ = strconv.Atoi(a[8])
	}
	if rate <= 0 || seconds <= 0 || inflightMax <= 0 || shards <= 0 || shard < 0 || shard >= shards {
		fail("RATE, SECONDS, INFLIGHT and SHARDS must be positive, 0 <= SHARD < SHARDS")
	}
	hc, server, token := client(a[1])
	do := func(method, url string, body []byte, contentType string) (*http.Response, error) {
		req, err := http.NewRequest(method, url, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("Accept", "application/json")
		return hc.Do(req)
	}

	resp, err := do("GET", server+"/api/v1/namespaces/"+ns+"/pods", nil, "")
	if err != nil {
		fail("list pods in %s: %v", ns, err)
	}
	var list struct {
		Items []struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		} `json:"items"`
	}
	err = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		fail("list pods in %s: HTTP %d %v", ns, resp.StatusCode, err)
	}
	// Writers patch disjoint pods: two PATCHes of one pod in flight conflict.
	var names []string
	for i, item := range list.Items {
		if i%shards == shard {
			names = append(names, item.Metadata.Name)
		}
	}
	if len(names) == 0 {
		fail("shard %d of %d has no pods in %s", shard, shards, ns)
	}

	type result struct {
		rv string
		at int64
	}
	var (
		mu         sync.Mutex
		results    = make([]result, 0, rate*seconds)
		errors     int
		firstError string
		wg         sync.WaitGroup
	)
	slots := make(chan struct{}, inflightMax)
	salt := strconv.Itoa(os.Getpid())
	total := int64(rate) * int64(seconds)
	start := time.Now()
	deadline := start.Add(time.Duration(seconds+30) * time.Second)
	var sent int64
	ticker := time.NewTicker(5 * time.Millisecond)
	for sent < total && time.Now().Before(deadline) {
		<-ticker.C
		due := min(total, time.Since(start).Milliseconds()*int64(rate)/1000)
		for sent < due {
			select {
			case slots <- struct{}{}:
			default:
				due = sent // all slots busy: catch up on the next tick
				continue
			}
			name := names[sent%int64(len(names))]
			sent++
			patch := []byte(`{"metadata":{"labels":{"tick":"` + salt + "-" + strconv.FormatInt(sent, 10) + `"}}}`)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				r, err := do("PATCH", server+"/api/v1/namespaces/"+ns+"/pods/"+name, patch, "application/merge-patch+json")
				at := monotonicNs()
				var body struct {
					Metadata struct {
						ResourceVersion string `json:"resourceVersion"`
					} `json:"metadata"`
				}
				if err == nil {
					err = json.NewDecoder(r.Body).Decode(&body)
					io.Copy(io.Discard, r.Body)
					r.Body.Close()
					if err == nil && r.StatusCode != 200 {
						err = fmt.Errorf("HTTP %d", r.StatusCode)
					}
				}
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if errors == 0 {
						firstError = err.Error()
					}
					errors++
					return
				}
				results = append(results, result{body.Metadata.ResourceVersion, at})
			}()
		}
	}
	ticker.Stop()
	wg.Wait()
	elapsed := time.Since(start).Seconds()

	f, err := os.Create(a[6])
	if err != nil {
		fail("%v", err)
	}
	w := bufio.NewWriter(f)
	for _, r := range results {
		fmt.Fprintf(w, "%s %d\n", r.rv, r.at)
	}
	w.Flush()
	f.Close()
	report, _ := json.Marshal(map[string]any{
		"writer": os.Getpid(), "target_per_s": rate, "sent": sent, "ok": len(results), "errors": errors,
		"seconds": float64(int(elapsed*10)) / 10, "achieved_per_s": int(float64(len(results)) / elapsed),
		"first_error": firstError, "client": "go",
	})
	fmt.Println(string(report))
}
