package openaifake

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Audio markers and limits.
const (
	TranscriptMarker = "TRANSCRIPT:"
	maxSpeechInput   = 4096
	maxAudioUpload   = 25 << 20
	speechPerRune    = 60 * time.Millisecond
	minSpeech        = 200 * time.Millisecond
)

// transcriptOf is the fake transcript of an uploaded file.
func transcriptOf(b []byte) string {
	_, after, ok := bytes.Cut(b, []byte(TranscriptMarker))
	if !ok {
		return fmt.Sprintf("Fake transcription of %d bytes of audio.", len(b))
	}
	if i := bytes.IndexAny(after, "\n\x00"); i >= 0 {
		after = after[:i]
	}
	return strings.TrimSpace(string(after))
}

func (h *Handler) transcribe(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxAudioUpload+1<<20)
	//nolint:gosec // G120: the body is bounded by MaxBytesReader just above.
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		h.record(r, Request{})
		failRequest(w, http.StatusBadRequest, invalidRequest("Could not parse multipart form: "+err.Error(), "", ""))
		return
	}
	defer func() { _ = r.MultipartForm.RemoveAll() }()
	rec := Request{
		Model: r.FormValue("model"), Language: r.FormValue("language"),
		Format: cmp.Or(r.FormValue("response_format"), "json"),
	}
	file, hdr, err := r.FormFile("file")
	if err != nil {
		h.record(r, rec)
		failRequest(w, http.StatusBadRequest, invalidRequest("Missing required parameter: 'file'.", "file", ""))
		return
	}
	defer func() { _ = file.Close() }()
	data, err := io.ReadAll(file)
	if err != nil {
		return
	}
	rec.FileName, rec.FileSize, rec.File = hdr.Filename, len(data), data
	switch {
	case rec.Model == "":
		h.record(r, rec)
		failRequest(w, http.StatusBadRequest, invalidRequest("you must provide a model parameter", "model", ""))
		return
	case len(data) == 0:
		h.record(r, rec)
		failRequest(w, http.StatusBadRequest, invalidRequest(
			"Audio file is too short. Minimum audio length is 0.1 seconds.", "file", "audio_too_short"))
		return
	}
	f, ok := h.begin(w, r, rec, admission{faultable: true})
	if !ok {
		return
	}
	if f.Refuse || f.ContentFilter {
		writeRefusal(w, false)
		return
	}
	text := transcriptOf(data)
	switch rec.Format {
	case "json":
		writeJSON(w, http.StatusOK, map[string]any{"text": text})
	case "text":
		writeText(w, text+"\n")
	case "srt":
		writeText(w, "1\n00:00:00,000 --> 00:00:01,000\n"+text+"\n\n")
	case "vtt":
		writeText(w, "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n"+text+"\n\n")
	case "verbose_json":
		writeJSON(w, http.StatusOK, map[string]any{
			"task": "transcribe", "language": cmp.Or(rec.Language, "english"), "duration": 1.0, "text": text,
			"segments": []map[string]any{{"id": 0, "seek": 0, "start": 0.0, "end": 1.0, "text": text, "tokens": []int{},
				"temperature": 0.0, "avg_logprob": -0.1, "compression_ratio": 1.0, "no_speech_prob": 0.01}},
		})
	default:
		failRequest(w, http.StatusBadRequest, invalidRequest(
			fmt.Sprintf("Invalid value: '%s'. Supported values are: 'json', 'text', 'srt', 'verbose_json', and 'vtt'.", rec.Format),
			"response_format", "invalid_value"))
	}
}

func writeText(w http.ResponseWriter, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, s)
}

type speechRequest struct {
	Model          string  `json:"model"`
	Input          string  `json:"input"`
	Voice          string  `json:"voice"`
	ResponseFormat string  `json:"response_format"`
	Speed          float64 `json:"speed"`
}

func (h *Handler) speech(w http.ResponseWriter, r *http.Request) {
	sr, body, ok := decodeBody[speechRequest](h, w, r)
	if !ok {
		return
	}
	sr.ResponseFormat = cmp.Or(sr.ResponseFormat, "mp3")
	rec := Request{Body: body, Model: sr.Model, Input: sr.Input, Voice: sr.Voice, Format: sr.ResponseFormat}
	if aerr := validateSpeech(sr); aerr != nil {
		h.record(r, rec)
		failRequest(w, http.StatusBadRequest, *aerr)
		return
	}
	f, ok := h.begin(w, r, rec, admission{faultable: true})
	if !ok {
		return
	}
	if f.Refuse || f.ContentFilter {
		writeRefusal(w, false)
		return
	}
	d := speechDuration(sr.Input, sr.Speed)
	// The marker must end at a newline, so the input is kept on one line.
	marker := TranscriptMarker + strings.Join(strings.Fields(sr.Input), " ") + "\n"
	var audio []byte
	var ct string
	switch sr.ResponseFormat {
	case "opus":
		audio, ct = oggOpusSilence(d, marker), "audio/ogg"
	case "mp3":
		audio, ct = mp3Silence(d, marker), "audio/mpeg"
	case "wav":
		audio, ct = wavSilence(d, marker), "audio/wav"
	case "pcm":
		audio, ct = make([]byte, 2*pcmSamples(d)), "audio/pcm"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(audio)))
	_, _ = w.Write(audio)
}

func validateSpeech(sr speechRequest) *apiError {
	switch {
	case sr.Model == "":
		return new(invalidRequest("you must provide a model parameter", "model", ""))
	case sr.Input == "":
		return new(invalidRequest("[] is too short - 'input'", "input", ""))
	case utf8.RuneCountInString(sr.Input) > maxSpeechInput:
		return new(invalidRequest(fmt.Sprintf("string too long. Expected a string with maximum length %d.", maxSpeechInput),
			"input", "string_above_max_length"))
	case sr.Voice == "":
		return new(invalidRequest("Missing required parameter: 'voice'.", "voice", ""))
	case sr.Speed != 0 && (sr.Speed < 0.25 || sr.Speed > 4):
		return new(invalidRequest("speed must be between 0.25 and 4.0", "speed", "invalid_value"))
	}
	switch sr.ResponseFormat {
	case "opus", "mp3", "wav", "pcm":
		return nil
	default:
		return new(invalidRequest(fmt.Sprintf("openaifake answers opus, mp3, wav and pcm, not '%s'", sr.ResponseFormat),
			"response_format", "invalid_value"))
	}
}

// speechDuration grows with the input: 60 ms a character at speed 1.
func speechDuration(input string, speed float64) time.Duration {
	d := time.Duration(utf8.RuneCountInString(input)) * speechPerRune
	if speed > 0 {
		d = time.Duration(float64(d) / speed)
	}
	return max(d, minSpeech)
}
