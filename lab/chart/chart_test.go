package chart

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drainpipe/drainpipe/lab/traffic"
)

func TestDrawWritesPNGAndSVG(t *testing.T) {
	var secs []traffic.Second
	for i := range 20 {
		s := traffic.Second{At: i, Requests: 200, Codes: map[int]int{200: 200}}
		if i == 5 {
			s.Codes = map[int]int{200: 180, 502: 20}
		}
		secs = append(secs, s)
	}
	marks := []Mark{{Label: "naive reboot", From: 4, To: 7, Bad: true}, {Label: "i-1", From: 9, To: 12}}
	dir := t.TempDir()
	for _, name := range []string{"run.png", "run.svg"} {
		path := filepath.Join(dir, name)
		if err := Draw(path, "test", secs, marks); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(name, ".png"):
			img, err := png.Decode(bytes.NewReader(data))
			if err != nil || img.Bounds().Dx() < 500 {
				t.Errorf("png: %v, %v", err, img.Bounds())
			}
		default:
			if !bytes.Contains(data, []byte("<svg")) || !bytes.Contains(data, []byte("naive reboot")) {
				t.Errorf("svg lacks the drawing or the labels")
			}
		}
	}
}
