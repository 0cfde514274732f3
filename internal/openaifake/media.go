package openaifake

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"time"
)

// Opus in Ogg (RFC 7845): an OpusHead page, an OpusTags page, then pages of
// 20 ms packets. The packet 0xF8 0xFF 0xFE (TOC: CELT fullband 20 ms, mono,
// one frame) decodes to silence.
const (
	opusPreSkip      = 312
	opusFrameSamples = 960 // 20 ms at 48 kHz
	opusFrame        = 20 * time.Millisecond
	packetsPerPage   = 50 // one second a page
	oggSerial        = 0x6f616966
	speechRate       = 24000 // Hz, like OpenAI's wav and pcm output
)

var silentOpusPacket = []byte{0xF8, 0xFF, 0xFE}

// oggOpusSilence returns a valid Ogg/Opus file of d of silence, with comment
// as a DESCRIPTION tag.
//
//nolint:gosec // G115: every length here is bounded by the 4096-character speech input.
func oggOpusSilence(d time.Duration, comment string) []byte {
	head := make([]byte, 0, 19)
	head = append(head, "OpusHead"...)
	head = append(head, 1, 1) // version, channels
	head = binary.LittleEndian.AppendUint16(head, opusPreSkip)
	head = binary.LittleEndian.AppendUint32(head, speechRate) // original input rate
	head = binary.LittleEndian.AppendUint16(head, 0)          // output gain
	head = append(head, 0)                                    // channel mapping family

	const vendor = "openaifake"
	tag := "DESCRIPTION=" + comment
	tags := []byte("OpusTags")
	tags = binary.LittleEndian.AppendUint32(tags, uint32(len(vendor)))
	tags = append(tags, vendor...)
	tags = binary.LittleEndian.AppendUint32(tags, 1)
	tags = binary.LittleEndian.AppendUint32(tags, uint32(len(tag)))
	tags = append(tags, tag...)

	var buf bytes.Buffer
	seq := uint32(0)
	page := func(flags byte, granule uint64, packets ...[]byte) {
		writeOggPage(&buf, flags, granule, seq, packets)
		seq++
	}
	page(0x02, 0, head) // beginning of stream
	page(0x00, 0, tags)
	n := max(1, int((d+opusFrame-1)/opusFrame))
	granule := uint64(opusPreSkip)
	for i := 0; i < n; i += packetsPerPage {
		k := min(packetsPerPage, n-i)
		packets := make([][]byte, k)
		for j := range packets {
			packets[j] = silentOpusPacket
		}
		granule += uint64(k * opusFrameSamples)
		flags := byte(0)
		if i+k == n {
			flags = 0x04 // end of stream
		}
		page(flags, granule, packets...)
	}
	return buf.Bytes()
}

// writeOggPage writes one page holding whole packets (RFC 3533).
//
//nolint:gosec // G115: every length here is bounded by the 4096-character speech input.
func writeOggPage(buf *bytes.Buffer, flags byte, granule uint64, seq uint32, packets [][]byte) {
	var lacing []byte
	for _, p := range packets {
		for n := len(p); ; n -= 255 {
			if n < 255 {
				lacing = append(lacing, byte(n))
				break
			}
			lacing = append(lacing, 255)
		}
	}
	start := buf.Len()
	hdr := []byte("OggS")
	hdr = append(hdr, 0, flags)
	hdr = binary.LittleEndian.AppendUint64(hdr, granule)
	hdr = binary.LittleEndian.AppendUint32(hdr, oggSerial)
	hdr = binary.LittleEndian.AppendUint32(hdr, seq)
	hdr = binary.LittleEndian.AppendUint32(hdr, 0) // CRC, filled below
	hdr = append(hdr, byte(len(lacing)))
	hdr = append(hdr, lacing...)
	buf.Write(hdr)
	for _, p := range packets {
		buf.Write(p)
	}
	pageBytes := buf.Bytes()[start:]
	binary.LittleEndian.PutUint32(pageBytes[22:26], oggCRC(pageBytes))
}

// oggCRCTable is the CRC-32 table of Ogg: polynomial 0x04C11DB7, not
// reflected, initial value 0, no final XOR.
var oggCRCTable = func() (t [256]uint32) {
	for i := range t {
		r := uint32(i) << 24
		for range 8 {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04C11DB7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return t
}()

func oggCRC(b []byte) uint32 {
	var crc uint32
	for _, x := range b {
		crc = crc<<8 ^ oggCRCTable[byte(crc>>24)^x]
	}
	return crc
}

// pcmSamples is the number of samples in d at speechRate.
func pcmSamples(d time.Duration) int { return int(d * speechRate / time.Second) }

// wavSilence returns a 16-bit mono 24 kHz WAV of d of silence, with comment
// in a LIST/INFO ICMT chunk.
//
//nolint:gosec // G115: every length here is bounded by the 4096-character speech input.
func wavSilence(d time.Duration, comment string) []byte {
	dataLen := 2 * pcmSamples(d)
	icmt := append([]byte(comment), 0)
	if len(icmt)%2 == 1 {
		icmt = append(icmt, 0)
	}
	listLen := 4 + 8 + len(icmt)
	le32 := binary.LittleEndian.AppendUint32
	le16 := binary.LittleEndian.AppendUint16
	b := make([]byte, 0, 12+24+8+listLen+8+dataLen)
	b = append(b, "RIFF"...)
	b = le32(b, uint32(4+24+8+listLen+8+dataLen))
	b = append(b, "WAVEfmt "...)
	b = le32(b, 16)
	b = le16(b, 1) // PCM
	b = le16(b, 1) // mono
	b = le32(b, speechRate)
	b = le32(b, speechRate*2) // byte rate
	b = le16(b, 2)            // block align
	b = le16(b, 16)           // bits per sample
	b = append(b, "LIST"...)
	b = le32(b, uint32(listLen))
	b = append(b, "INFOICMT"...)
	b = le32(b, uint32(len(icmt)))
	b = append(b, icmt...)
	b = append(b, "data"...)
	b = le32(b, uint32(dataLen))
	return append(b, make([]byte, dataLen)...)
}

// MPEG-1 Layer III, 128 kbit/s, 48 kHz, mono: 384-byte frames of 1152
// samples (24 ms). A frame whose side information is all zero is silence.
const (
	mp3FrameLen = 384
	mp3Frame    = 24 * time.Millisecond
)

var mp3Header = []byte{0xFF, 0xFB, 0x94, 0xC4}

// mp3Silence returns d of silent MP3 frames after an ID3v2.4 tag whose TXXX
// frame holds comment.
func mp3Silence(d time.Duration, comment string) []byte {
	txxx := append([]byte{3}, "comment\x00"...) // UTF-8 encoding, description
	txxx = append(txxx, comment...)
	frame := append([]byte("TXXX"), syncsafe(len(txxx))...)
	frame = append(frame, 0, 0) // flags
	frame = append(frame, txxx...)

	n := max(1, int((d+mp3Frame-1)/mp3Frame))
	b := make([]byte, 0, 10+len(frame)+n*mp3FrameLen)
	b = append(b, "ID3"...)
	b = append(b, 4, 0, 0) // version 2.4.0, no flags
	b = append(b, syncsafe(len(frame))...)
	b = append(b, frame...)
	for range n {
		b = append(b, mp3Header...)
		b = append(b, make([]byte, mp3FrameLen-len(mp3Header))...)
	}
	return b
}

func syncsafe(n int) []byte {
	return []byte{byte(n >> 21 & 0x7f), byte(n >> 14 & 0x7f), byte(n >> 7 & 0x7f), byte(n & 0x7f)}
}

// imageSide is the width and height of every generated image.
const imageSide = 64

// pngImage returns a 64×64 PNG: a gradient from c.
func pngImage(c color.NRGBA) ([]byte, error) {
	img := image.NewNRGBA(image.Rect(0, 0, imageSide, imageSide))
	for y := range imageSide {
		for x := range imageSide {
			img.SetNRGBA(x, y, color.NRGBA{
				R: c.R ^ byte(x*2), G: c.G ^ byte(y*2), B: c.B ^ byte((x + y)), A: 0xff,
			})
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
