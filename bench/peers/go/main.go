// The Go peer of the ingress benchmark: what a user could write instead of the ingress in an afternoon.
// net/http + franz-go: verify Zoom's HMAC over the raw body, append the same record the ingress appends
// (value = the body bytes, key = the meeting UUID, the zp-delivery / zp-delivery-id / zp-event headers) with an
// idempotent acks=all producer, and answer 200 only after the append is acknowledged (ProduceSync).
// Bench code only: built by bench/lib/go-peer.ts into ~/.cache/zoom-pipeline, never shipped.
package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

const tolerance = 2 * time.Hour

type envelope struct {
	Event   string `json:"event"`
	Payload struct {
		AccountID string `json:"account_id"`
		Object    struct {
			UUID string `json:"uuid"`
		} `json:"object"`
	} `json:"payload"`
}

type meta struct {
	V          int    `json:"v"`
	ID         string `json:"id"`
	ReceivedAt string `json:"receivedAt"`
	App        string `json:"app"`
	SourceIP   string `json:"sourceIp"`
	Event      string `json:"event"`
	Timestamp  string `json:"timestamp"`
	TrackingID string `json:"trackingId,omitempty"`
	RequestID  string `json:"requestId,omitempty"`
}

func uuid4() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func verify(secret, sig, ts string, body []byte, now time.Time) bool {
	if secret == "" || !strings.HasPrefix(sig, "v0=") {
		return false
	}
	presented, err := hex.DecodeString(sig[3:])
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)
	if !hmac.Equal(presented, mac.Sum(nil)) {
		return false
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	skew := now.Sub(time.Unix(sec, 0))
	return skew <= tolerance && skew >= -tolerance
}

func main() {
	secret := os.Getenv("ZOOM_WEBHOOK_SECRET_TOKEN")
	topic := os.Getenv("PEER_TOPIC")
	brokers := strings.Split(os.Getenv("KAFKA_BROKERS"), ",")
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent is franz-go's default with acks=all
		kgo.ProducerLinger(0),              // send at once; what is queued meanwhile leaves in the next request
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RecordDeliveryTimeout(10*time.Second),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer cl.Close()
	if err := cl.Ping(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhooks/zoom", func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, `{"error":"bad_body"}`, http.StatusBadRequest)
			return
		}
		ts := r.Header.Get("x-zm-request-timestamp")
		if !verify(secret, r.Header.Get("x-zm-signature"), ts, body, now) {
			http.Error(w, `{"error":"signature_mismatch"}`, http.StatusUnauthorized)
			return
		}
		var env envelope
		if err := json.Unmarshal(body, &env); err != nil || env.Event == "" {
			http.Error(w, `{"error":"bad_body"}`, http.StatusBadRequest)
			return
		}
		key := env.Payload.Object.UUID
		if key == "" {
			key = env.Payload.AccountID
		}
		id := uuid4()
		ip, _, _ := net.SplitHostPort(r.RemoteAddr)
		m, _ := json.Marshal(meta{V: 2, ID: id, ReceivedAt: now.UTC().Format("2006-01-02T15:04:05.000Z"), App: "default", SourceIP: ip,
			Event: env.Event, Timestamp: ts, TrackingID: r.Header.Get("x-zm-trackingid"), RequestID: r.Header.Get("x-zm-request-id")})
		rec := &kgo.Record{Topic: topic, Key: []byte(key), Value: body, Headers: []kgo.RecordHeader{
			{Key: "zp-delivery", Value: m}, {Key: "zp-delivery-id", Value: []byte(id)}, {Key: "zp-event", Value: []byte(env.Event)},
		}}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			w.Header().Set("retry-after", "5")
			http.Error(w, `{"error":"log_unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("content-type", "application/json; charset=utf-8")
		_, _ = w.Write([]byte(`{"status":"accepted","id":"` + id + `"}`))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening %d\n", ln.Addr().(*net.TCPAddr).Port)
	_ = http.Serve(ln, mux)
}
