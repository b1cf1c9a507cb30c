// JPEG and PNG decoding and PNG encoding over libjpeg(-turbo) and libpng.
//
// libjpeg and libpng report fatal errors by longjmp, which Swift cannot catch, so every call here sets
// its own jump target and turns a failure into a status code and a message. Decoded pixels are always
// 8-bit RGB, row-major, with EXIF orientation applied (JPEG) and alpha composited on white (PNG).
#ifndef LOUPE_CODEC_H
#define LOUPE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    LI_OK = 0,
    LI_NOT_AN_IMAGE = 1,  // neither JPEG nor PNG signature
    LI_TRUNCATED = 2,     // data ends before the image does
    LI_CORRUPT = 3,       // the codec rejected the data
    LI_ZERO_SIZE = 4,     // width or height is zero
    LI_TOO_LARGE = 5,     // width × height above the caller's pixel budget (checked before allocating)
    LI_NO_MEMORY = 6,
} li_status;

typedef enum { LI_FORMAT_UNKNOWN = 0, LI_FORMAT_JPEG = 1, LI_FORMAT_PNG = 2 } li_format;

typedef struct {
    int format;           // li_format
    uint32_t width;       // of `pixels`, after EXIF orientation (as stored when refused with LI_TOO_LARGE)
    uint32_t height;
    uint32_t full_width;  // of the image as stored (after EXIF orientation); above width when decoded reduced
    uint32_t full_height;
    int orientation;      // EXIF orientation 1..8 (1 when absent)
    int bit_depth;        // 8 or 16 (PNG), 8 (JPEG)
    int color_type;       // PNG colour type, or JPEG component count
    int progressive;      // JPEG: progressive scan
    uint8_t *pixels;      // width * height * 3 bytes (RGB); free with li_free
    char message[200];    // why it failed
} li_image;

li_format li_sniff(const uint8_t *data, size_t size);

// Decodes JPEG or PNG bytes. `max_pixels` bounds width × height; it is checked from the header,
// before any pixel buffer is allocated. With `header_only`, stops after the header (no pixels).
li_status li_decode(const uint8_t *data, size_t size, uint64_t max_pixels, int header_only, li_image *out);

// As li_decode, but a JPEG is decoded at the smallest scale 1/8, 1/4, 1/2 or 1 whose longer side is at least
// `min_side` (libjpeg's scaled IDCT): a 1000×1000 photo wanted at 224 comes out 250×250, several times
// cheaper to decode and to resize. PNGs, and `min_side` 0, decode at full size. `full_width` and
// `full_height` give the stored size either way.
li_status li_decode_reduced(const uint8_t *data, size_t size, uint64_t max_pixels, int header_only, uint32_t min_side,
                            li_image *out);

void li_free(void *pointer);

// Encodes 8-bit pixels (channels 1 = gray, 3 = RGB, 4 = RGBA) as PNG into a malloc'd buffer.
li_status li_encode_png(const uint8_t *pixels, uint32_t width, uint32_t height, int channels, uint8_t **out,
                        size_t *out_size, char *message, size_t message_size);

// Encodes 8-bit RGB pixels as JPEG (quality 1..100, optionally progressive) into a malloc'd buffer.
li_status li_encode_jpeg(const uint8_t *pixels, uint32_t width, uint32_t height, int quality, int progressive,
                         uint8_t **out, size_t *out_size, char *message, size_t message_size);

// Inflates gzip (or zlib) data into a malloc'd buffer of at most `max_size` bytes: LI_TRUNCATED when
// the stream ends early, LI_CORRUPT when it is not gzip or fails its check, LI_TOO_LARGE above the bound.
li_status li_gunzip(const uint8_t *data, size_t size, size_t max_size, uint8_t **out, size_t *out_size,
                    char *message, size_t message_size);

#ifdef __cplusplus
}
#endif

#endif
