package openaifake

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// FlagMarker makes moderation flag an input and image generation reject a
// prompt.
const FlagMarker = "FLAG_ME"

// Models lists the models GET /v1/models claims to serve. The endpoints
// accept any model name.
func Models() []string {
	return []string{
		"gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "whisper-1", "gpt-4o-mini-transcribe",
		"tts-1", "tts-1-hd", "gpt-4o-mini-tts", "dall-e-2", "dall-e-3", "gpt-image-1",
		"omni-moderation-latest", "text-moderation-latest",
	}
}

type imageRequest struct {
	Prompt         string `json:"prompt"`
	Model          string `json:"model"`
	N              int    `json:"n"`
	ResponseFormat string `json:"response_format"`
}

func (h *Handler) images(w http.ResponseWriter, r *http.Request) {
	ir, body, ok := decodeBody[imageRequest](h, w, r)
	if !ok {
		return
	}
	ir.Model = cmp.Or(ir.Model, "dall-e-2")
	gptImage := strings.HasPrefix(ir.Model, "gpt-image") || strings.HasPrefix(ir.Model, "chatgpt-image")
	rec := Request{Body: body, Model: ir.Model, Input: ir.Prompt, Format: ir.ResponseFormat}
	var aerr *apiError
	switch {
	case ir.Prompt == "":
		aerr = new(invalidRequest("Missing required parameter: 'prompt'.", "prompt", ""))
	case ir.N < 0 || ir.N > 10:
		aerr = new(invalidRequest("n must be between 1 and 10", "n", "invalid_value"))
	case ir.Model == "dall-e-3" && ir.N > 1:
		aerr = new(invalidRequest("You must provide n=1 for this model.", "n", ""))
	case gptImage && ir.ResponseFormat != "":
		aerr = new(invalidRequest("Unknown parameter: 'response_format'.", "response_format", "unknown_parameter"))
	case ir.ResponseFormat != "" && ir.ResponseFormat != "url" && ir.ResponseFormat != "b64_json":
		aerr = new(invalidRequest("response_format must be 'url' or 'b64_json'", "response_format", "invalid_value"))
	}
	if aerr != nil {
		h.record(r, rec)
		failRequest(w, http.StatusBadRequest, *aerr)
		return
	}
	f, ok := h.begin(w, r, rec, admission{faultable: true})
	if !ok {
		return
	}
	if f.Refuse || f.ContentFilter || strings.Contains(ir.Prompt, FlagMarker) {
		writeRefusal(w, true)
		return
	}
	b64 := gptImage || ir.ResponseFormat == "b64_json"
	data := make([]map[string]string, 0, max(ir.N, 1))
	for i := range max(ir.N, 1) {
		sum := sha256.Sum256([]byte(ir.Prompt + "\x00" + strconv.Itoa(i)))
		c := color.NRGBA{R: sum[0], G: sum[1], B: sum[2], A: 0xff}
		item := map[string]string{"revised_prompt": ir.Prompt}
		if b64 {
			img, err := pngImage(c)
			if err != nil {
				failRequest(w, http.StatusInternalServerError, serverError(err.Error()))
				return
			}
			item["b64_json"] = base64.StdEncoding.EncodeToString(img)
		} else {
			scheme := "http"
			if r.TLS != nil {
				scheme = "https"
			}
			item["url"] = fmt.Sprintf("%s://%s/v1/images/files/%s.png", scheme, r.Host, hex.EncodeToString(sum[:3]))
		}
		data = append(data, item)
	}
	writeJSON(w, http.StatusOK, map[string]any{"created": time.Now().Unix(), "data": data})
}

// imageFile serves the PNG an image URL points at; like OpenAI's signed
// URLs it needs no API key.
func (h *Handler) imageFile(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutSuffix(r.PathValue("name"), ".png")
	rgb, err := hex.DecodeString(name)
	if !ok || err != nil || len(rgb) != 3 {
		h.notFound(w, r)
		return
	}
	img, err := pngImage(color.NRGBA{R: rgb[0], G: rgb[1], B: rgb[2], A: 0xff})
	if err != nil {
		failRequest(w, http.StatusInternalServerError, serverError(err.Error()))
		return
	}
	w.Header().Set("Content-Type", "image/png")
	_, _ = w.Write(img)
}

var moderationCategories = []string{
	"harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
	"self-harm", "self-harm/intent", "self-harm/instructions", "sexual", "sexual/minors",
	"violence", "violence/graphic",
}

func (h *Handler) moderate(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	if err != nil {
		return
	}
	var mr struct {
		Input json.RawMessage `json:"input"`
		Model string          `json:"model"`
	}
	inputs, perr := []string(nil), json.Unmarshal(body, &mr)
	if perr == nil {
		inputs, perr = moderationInputs(mr.Input)
	}
	mr.Model = cmp.Or(mr.Model, "omni-moderation-latest")
	rec := Request{Body: body, Model: mr.Model, Input: strings.Join(inputs, "\n")}
	if perr != nil {
		h.record(r, rec)
		failRequest(w, http.StatusBadRequest, invalidRequest(perr.Error(), "input", ""))
		return
	}
	if _, ok := h.begin(w, r, rec, admission{}); !ok {
		return
	}
	results := make([]map[string]any, 0, len(inputs))
	for _, in := range inputs {
		flagged := strings.Contains(in, FlagMarker)
		cats, scores, types := map[string]bool{}, map[string]float64{}, map[string][]string{}
		for _, c := range moderationCategories {
			cats[c], scores[c], types[c] = false, 0.0001, []string{"text"}
		}
		if flagged {
			cats["harassment"], scores["harassment"] = true, 0.97
		}
		results = append(results, map[string]any{
			"flagged": flagged, "categories": cats, "category_scores": scores, "category_applied_input_types": types,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": "modr-fake" + itoa(h.seq.Add(1)), "model": mr.Model, "results": results})
}

// moderationInputs accepts a string, an array of strings, or an array of
// multi-modal parts (only text parts are moderated).
func moderationInputs(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	var s string
	if err := json.Unmarshal(raw, &s); err == nil && s != "" {
		return []string{s}, nil
	}
	var ss []string
	if err := json.Unmarshal(raw, &ss); err == nil && len(ss) > 0 {
		return ss, nil
	}
	var parts []wirePart
	if err := json.Unmarshal(raw, &parts); err == nil && len(parts) > 0 {
		var texts []string
		for _, p := range parts {
			if p.Type == "text" {
				texts = append(texts, p.Text)
			}
		}
		return []string{strings.Join(texts, "\n")}, nil
	}
	return nil, fmt.Errorf("input must be a non-empty string, an array of strings, or an array of parts")
}

func (h *Handler) models(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.begin(w, r, Request{}, admission{}); !ok {
		return
	}
	ids := Models()
	data := make([]map[string]any, 0, len(ids))
	for _, m := range ids {
		data = append(data, map[string]any{"id": m, "object": "model", "created": 1700000000, "owned_by": "openaifake"})
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}
