package openaifake_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sashabaranov/go-openai"
	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/openaifake"
)

func TestTranscription(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		data   []byte
		format openai.AudioResponseFormat
		want   string
	}{
		{"marker", []byte("OggS\x00\x01junk TRANSCRIPT:hello bot\nmore junk"), "", "hello bot"},
		{"marker ends at NUL", []byte("TRANSCRIPT: olá mundo \x00\x01\x02"), openai.AudioResponseFormatJSON, "olá mundo"},
		{"no marker", bytes.Repeat([]byte{1}, 1234), "", "Fake transcription of 1234 bytes of audio."},
		{"text format", []byte("TRANSCRIPT:plain"), openai.AudioResponseFormatText, "plain\n"},
		{"verbose json", []byte("TRANSCRIPT:verbose"), openai.AudioResponseFormatVerboseJSON, "verbose"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c := setup(t)
			resp, err := c.CreateTranscription(testCtx(t), openai.AudioRequest{
				Model: openai.Whisper1, FilePath: "voice.ogg", Reader: bytes.NewReader(tt.data), Language: "pt", Format: tt.format,
			})
			require.NoError(t, err)
			require.Equal(t, tt.want, resp.Text)
			reqs := s.Requests()
			require.Len(t, reqs, 1)
			require.Equal(t, "/v1/audio/transcriptions", reqs[0].Path)
			require.Equal(t, openai.Whisper1, reqs[0].Model)
			require.Equal(t, "pt", reqs[0].Language)
			require.Equal(t, "voice.ogg", reqs[0].FileName)
			require.Equal(t, len(tt.data), reqs[0].FileSize)
		})
	}
}

func TestTranscriptionRejectsEmptyFile(t *testing.T) {
	t.Parallel()
	_, c := setup(t)
	_, err := c.CreateTranscription(testCtx(t), openai.AudioRequest{Model: openai.Whisper1, FilePath: "voice.ogg", Reader: bytes.NewReader(nil)})
	apiErr, ok := errors.AsType[*openai.APIError](err)
	require.True(t, ok, "%v", err)
	require.Equal(t, http.StatusBadRequest, apiErr.HTTPStatusCode)
	require.Equal(t, "invalid_request_error", apiErr.Type)
}

func TestSpeech(t *testing.T) {
	t.Parallel()
	const input = "Hello from the fake speech endpoint"
	tests := []struct {
		format      openai.SpeechResponseFormat
		contentType string
		check       func(t *testing.T, audio []byte)
	}{{
		format: openai.SpeechResponseFormatOpus, contentType: "audio/ogg",
		check: func(t *testing.T, audio []byte) {
			packets, granule := parseOgg(t, audio)
			require.GreaterOrEqual(t, len(packets), 3)
			require.True(t, bytes.HasPrefix(packets[0], []byte("OpusHead")))
			require.True(t, bytes.HasPrefix(packets[1], []byte("OpusTags")))
			require.Contains(t, string(packets[1]), openaifake.TranscriptMarker+input)
			preSkip := uint64(binary.LittleEndian.Uint16(packets[0][10:12]))
			// 60 ms a character, 20 ms (960 samples at 48 kHz) a packet.
			wantPackets := len(input) * 60 / 20
			require.Len(t, packets, 2+wantPackets)
			require.Equal(t, preSkip+uint64(wantPackets)*960, granule)
		},
	}, {
		format: openai.SpeechResponseFormatWav, contentType: "audio/wav",
		check: func(t *testing.T, audio []byte) {
			require.Equal(t, "RIFF", string(audio[:4]))
			require.Equal(t, "WAVE", string(audio[8:12]))
			require.Equal(t, len(audio)-8, int(binary.LittleEndian.Uint32(audio[4:8])))
			i := bytes.Index(audio, []byte("data"))
			require.Positive(t, i)
			dataLen := int(binary.LittleEndian.Uint32(audio[i+4 : i+8]))
			require.Equal(t, len(input)*60*24*2, dataLen) // 24 samples a ms, 2 bytes a sample
			require.Len(t, audio, i+8+dataLen)
		},
	}, {
		format: openai.SpeechResponseFormatMp3, contentType: "audio/mpeg",
		check: func(t *testing.T, audio []byte) {
			require.Equal(t, "ID3", string(audio[:3]))
			require.Contains(t, string(audio), openaifake.TranscriptMarker+input)
			i := bytes.Index(audio, []byte{0xFF, 0xFB})
			require.Positive(t, i)
			require.Zero(t, (len(audio)-i)%384, "whole 384-byte frames")
		},
	}, {
		format: openai.SpeechResponseFormatPcm, contentType: "audio/pcm",
		check: func(t *testing.T, audio []byte) {
			require.Len(t, audio, len(input)*60*24*2)
		},
	}}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			t.Parallel()
			s, c := setup(t)
			raw, err := c.CreateSpeech(testCtx(t), openai.CreateSpeechRequest{
				Model: openai.TTSModel1, Input: input, Voice: openai.VoiceAlloy, ResponseFormat: tt.format,
			})
			require.NoError(t, err)
			audio, err := io.ReadAll(raw)
			require.NoError(t, err)
			require.NoError(t, raw.Close())
			require.Equal(t, tt.contentType, raw.Header().Get("Content-Type"))
			tt.check(t, audio)
			reqs := s.Requests()
			require.Len(t, reqs, 1)
			require.Equal(t, input, reqs[0].Input)
			require.Equal(t, string(openai.VoiceAlloy), reqs[0].Voice)
			require.Equal(t, string(tt.format), reqs[0].Format)
		})
	}
}

// TestSpeechTranscribesBack checks that the fake transcribes its own speech
// into the input.
func TestSpeechTranscribesBack(t *testing.T) {
	t.Parallel()
	_, c := setup(t)
	ctx := testCtx(t)
	raw, err := c.CreateSpeech(ctx, openai.CreateSpeechRequest{
		Model: openai.TTSModel1, Input: "round\ntrip", Voice: openai.VoiceNova, ResponseFormat: openai.SpeechResponseFormatOpus,
	})
	require.NoError(t, err)
	defer func() { require.NoError(t, raw.Close()) }()
	resp, err := c.CreateTranscription(ctx, openai.AudioRequest{Model: openai.Whisper1, FilePath: "reply.ogg", Reader: raw})
	require.NoError(t, err)
	require.Equal(t, "round trip", resp.Text)
}

// parseOgg checks every page's capture pattern and CRC, and returns the
// packets and the last page's granule position.
func parseOgg(t *testing.T, b []byte) (packets [][]byte, granule uint64) {
	t.Helper()
	var cur []byte
	for page := 0; len(b) > 0; page++ {
		require.GreaterOrEqual(t, len(b), 27)
		require.Equal(t, "OggS", string(b[:4]), "page %d", page)
		require.Zero(t, b[4], "version")
		nseg := int(b[26])
		lacing := b[27 : 27+nseg]
		size := 27 + nseg
		for _, l := range lacing {
			size += int(l)
		}
		require.LessOrEqual(t, size, len(b))
		pg := bytes.Clone(b[:size])
		want := binary.LittleEndian.Uint32(pg[22:26])
		binary.LittleEndian.PutUint32(pg[22:26], 0)
		require.Equal(t, want, bitwiseOggCRC(pg), "CRC of page %d", page)
		require.Equal(t, uint32(page), binary.LittleEndian.Uint32(pg[18:22]), "sequence")
		flags := pg[5]
		require.Equal(t, page == 0, flags&0x02 != 0, "BOS flag on page %d", page)
		granule = binary.LittleEndian.Uint64(pg[6:14])
		body := pg[27+nseg:]
		for _, l := range lacing {
			cur, body = append(cur, body[:l]...), body[l:]
			if l < 255 {
				packets, cur = append(packets, cur), nil
			}
		}
		b = b[size:]
		if len(b) == 0 {
			require.NotZero(t, flags&0x04, "EOS flag on the last page")
		}
	}
	return packets, granule
}

// bitwiseOggCRC is Ogg's CRC-32 computed bit by bit, independently of the
// fake's table.
func bitwiseOggCRC(b []byte) uint32 {
	var crc uint32
	for _, x := range b {
		crc ^= uint32(x) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04C11DB7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

func TestImages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		req    openai.ImageRequest
		useURL bool
	}{
		{"b64", openai.ImageRequest{Prompt: "a cat", Model: openai.CreateImageModelDallE3, ResponseFormat: openai.CreateImageResponseFormatB64JSON}, false},
		{"gpt-image default b64", openai.ImageRequest{Prompt: "a dog", Model: openai.CreateImageModelGptImage1}, false},
		{"url", openai.ImageRequest{Prompt: "a bird", Model: openai.CreateImageModelDallE2, N: 2, ResponseFormat: openai.CreateImageResponseFormatURL}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, c := setup(t)
			ctx := testCtx(t)
			resp, err := c.CreateImage(ctx, tt.req)
			require.NoError(t, err)
			require.NotZero(t, resp.Created)
			require.Len(t, resp.Data, max(tt.req.N, 1))
			var img []byte
			if tt.useURL {
				require.Empty(t, resp.Data[0].B64JSON)
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, resp.Data[0].URL, nil)
				require.NoError(t, err)
				res, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				defer func() { require.NoError(t, res.Body.Close()) }()
				require.Equal(t, http.StatusOK, res.StatusCode)
				require.Equal(t, "image/png", res.Header.Get("Content-Type"))
				img, err = io.ReadAll(res.Body)
				require.NoError(t, err)
			} else {
				img, err = base64.StdEncoding.DecodeString(resp.Data[0].B64JSON)
				require.NoError(t, err)
			}
			decoded, err := png.Decode(bytes.NewReader(img))
			require.NoError(t, err)
			require.Equal(t, 64, decoded.Bounds().Dx())
		})
	}
}

func TestImagesRejections(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		req      openai.ImageRequest
		wantCode string
	}{
		{"flag marker", openai.ImageRequest{Prompt: "draw " + openaifake.FlagMarker, Model: "dall-e-3"}, "content_policy_violation"},
		{"gpt-image with response_format", openai.ImageRequest{Prompt: "x", Model: "gpt-image-1", ResponseFormat: "b64_json"}, "unknown_parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, c := setup(t)
			_, err := c.CreateImage(testCtx(t), tt.req)
			apiErr, ok := errors.AsType[*openai.APIError](err)
			require.True(t, ok, "%v", err)
			require.Equal(t, http.StatusBadRequest, apiErr.HTTPStatusCode)
			require.Equal(t, tt.wantCode, apiErr.Code)
		})
	}
}

func TestModeration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		input   string
		flagged bool
	}{{"have a nice day", false}, {"you are " + openaifake.FlagMarker, true}}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			t.Parallel()
			_, c := setup(t)
			resp, err := c.Moderations(testCtx(t), openai.ModerationRequest{Input: tt.input, Model: openai.ModerationOmniLatest})
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(resp.ID, "modr-"))
			require.Equal(t, openai.ModerationOmniLatest, resp.Model)
			require.Len(t, resp.Results, 1)
			require.Equal(t, tt.flagged, resp.Results[0].Flagged)
			require.Equal(t, tt.flagged, resp.Results[0].Categories.Harassment)
		})
	}
}

func TestModels(t *testing.T) {
	t.Parallel()
	_, c := setup(t)
	list, err := c.ListModels(testCtx(t))
	require.NoError(t, err)
	ids := make([]string, 0, len(list.Models))
	for _, m := range list.Models {
		ids = append(ids, m.ID)
	}
	require.Equal(t, openaifake.Models(), ids)
}
