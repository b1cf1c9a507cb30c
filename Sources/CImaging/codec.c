#include "codec.h"

#include <setjmp.h>
#include <stdio.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

void li_free(void *pointer) { free(pointer); }

li_format li_sniff(const uint8_t *data, size_t size) {
    if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return LI_FORMAT_JPEG;
    static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (size >= 8 && memcmp(data, png_signature, 8) == 0) return LI_FORMAT_PNG;
    return LI_FORMAT_UNKNOWN;
}

static li_status fail(li_image *out, li_status status, const char *message) {
    snprintf(out->message, sizeof out->message, "%s", message);
    return status;
}

// MARK: EXIF orientation

static uint16_t rd16(const uint8_t *p, int little) { return little ? (uint16_t)(p[0] | p[1] << 8) : (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p, int little) {
    return little ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
                  : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

// Orientation tag (0x0112) of IFD0 in an APP1 "Exif\0\0" payload; 1 when absent or malformed.
static int exif_orientation(const uint8_t *data, unsigned length) {
    if (length < 14 || memcmp(data, "Exif\0\0", 6) != 0) return 1;
    const uint8_t *tiff = data + 6;
    unsigned n = length - 6;
    int little;
    if (tiff[0] == 'I' && tiff[1] == 'I') little = 1;
    else if (tiff[0] == 'M' && tiff[1] == 'M') little = 0;
    else return 1;
    if (rd16(tiff + 2, little) != 42) return 1;
    uint32_t ifd = rd32(tiff + 4, little);
    if (ifd + 2 > n) return 1;
    unsigned count = rd16(tiff + ifd, little);
    for (unsigned i = 0; i < count; i++) {
        uint32_t entry = ifd + 2 + 12 * i;
        if (entry + 12 > n) return 1;
        if (rd16(tiff + entry, little) == 0x0112 && rd16(tiff + entry + 2, little) == 3) {
            int value = rd16(tiff + entry + 8, little);
            return value >= 1 && value <= 8 ? value : 1;
        }
    }
    return 1;
}

// Applies EXIF orientation to packed RGB; returns a new buffer (or the input for orientation 1).
static uint8_t *orient(uint8_t *src, uint32_t w, uint32_t h, int orientation, uint32_t *out_w, uint32_t *out_h) {
    *out_w = w;
    *out_h = h;
    if (orientation <= 1 || orientation > 8) return src;
    int swap = orientation >= 5;
    uint32_t W = swap ? h : w, H = swap ? w : h;
    uint8_t *dst = malloc((size_t)W * H * 3);
    if (!dst) return NULL;
    for (uint32_t y = 0; y < H; y++) {
        for (uint32_t x = 0; x < W; x++) {
            uint32_t sx, sy;
            switch (orientation) {
            case 2: sx = w - 1 - x; sy = y; break;
            case 3: sx = w - 1 - x; sy = h - 1 - y; break;
            case 4: sx = x; sy = h - 1 - y; break;
            case 5: sx = y; sy = x; break;
            case 6: sx = y; sy = h - 1 - x; break;
            case 7: sx = w - 1 - y; sy = h - 1 - x; break;
            default: sx = w - 1 - y; sy = x; break;  // 8
            }
            memcpy(dst + ((size_t)y * W + x) * 3, src + ((size_t)sy * w + sx) * 3, 3);
        }
    }
    free(src);
    *out_w = W;
    *out_h = H;
    return dst;
}

// MARK: JPEG

struct jpeg_error_ctx {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    int truncated;
};

static void jpeg_error_exit(j_common_ptr cinfo) {
    struct jpeg_error_ctx *ctx = (struct jpeg_error_ctx *)cinfo->err;
    longjmp(ctx->jump, 1);
}

static void jpeg_emit(j_common_ptr cinfo, int level) {
    struct jpeg_error_ctx *ctx = (struct jpeg_error_ctx *)cinfo->err;
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) ctx->truncated = 1;
    if (level < 0) cinfo->err->num_warnings++;
}

static void jpeg_silent(j_common_ptr cinfo) { (void)cinfo; }

static li_status decode_jpeg(const uint8_t *data, size_t size, uint64_t max_pixels, int header_only, uint32_t min_side,
                             li_image *out) {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_ctx err;
    uint8_t *volatile pixels = NULL;
    uint8_t *volatile row = NULL;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&err.base);
    err.base.error_exit = jpeg_error_exit;
    err.base.emit_message = jpeg_emit;
    err.base.output_message = jpeg_silent;
    err.truncated = 0;
    if (setjmp(err.jump)) {
        char buffer[JMSG_LENGTH_MAX];
        (*cinfo.err->format_message)((j_common_ptr)&cinfo, buffer);
        int code = cinfo.err->msg_code;
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        free(row);
        if (code == JERR_EMPTY_IMAGE) return fail(out, LI_ZERO_SIZE, "JPEG has zero width or height");
        if (code == JERR_INPUT_EMPTY || code == JERR_INPUT_EOF) return fail(out, LI_TRUNCATED, buffer);
        if (err.truncated) return fail(out, LI_TRUNCATED, "JPEG data ends early (premature end of file)");
        return fail(out, LI_CORRUPT, buffer);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&cinfo, TRUE);
    if (err.truncated) {
        jpeg_destroy_decompress(&cinfo);
        return fail(out, LI_TRUNCATED, "JPEG data ends inside the header");
    }
    out->format = LI_FORMAT_JPEG;
    out->bit_depth = 8;
    out->color_type = cinfo.num_components;
    out->progressive = cinfo.progressive_mode ? 1 : 0;
    out->orientation = 1;
    for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next) {
        if (m->marker == JPEG_APP0 + 1) {
            int o = exif_orientation(m->data, m->data_length);
            if (o != 1) { out->orientation = o; break; }
        }
    }
    uint32_t w = cinfo.image_width, h = cinfo.image_height;
    if (w == 0 || h == 0) {
        jpeg_destroy_decompress(&cinfo);
        return fail(out, LI_ZERO_SIZE, "JPEG has zero width or height");
    }
    if ((uint64_t)w * h > max_pixels) {
        jpeg_destroy_decompress(&cinfo);
        out->width = w;
        out->height = h;
        snprintf(out->message, sizeof out->message, "JPEG is %ux%u = %llu pixels, above the budget of %llu", w, h,
                 (unsigned long long)w * h, (unsigned long long)max_pixels);
        return LI_TOO_LARGE;
    }
    int swap = out->orientation >= 5;
    out->width = out->full_width = swap ? h : w;
    out->height = out->full_height = swap ? w : h;
    if (header_only) {
        jpeg_destroy_decompress(&cinfo);
        return LI_OK;
    }
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    if (min_side > 0) {
        // Scaled IDCT: libjpeg decodes at M/8 of the size by inverse-transforming only the low
        // frequencies of each block, which is both the downscale's low-pass filter and most of the
        // saving. M is 1, 2, 4 or 8 (PIL's draft mode; libjpeg-turbo has SIMD code for these), the
        // smallest whose longer side, ceil(side · M / 8), still reaches min_side. Every coefficient is
        // still entropy-decoded, so a corrupt or truncated file fails exactly as at full size.
        uint64_t longer = w > h ? w : h;
        unsigned m = 1;
        while (m < 8 && (longer * m + 7) / 8 < min_side) m *= 2;
        cinfo.scale_num = m;
        cinfo.scale_denom = 8;
    }
    jpeg_start_decompress(&cinfo);
    w = cinfo.output_width;
    h = cinfo.output_height;
    int components = cinfo.output_components;
    pixels = malloc((size_t)w * h * 3);
    row = malloc((size_t)w * components);
    if (!pixels || !row) {
        free(row);
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        return fail(out, LI_NO_MEMORY, "out of memory decoding JPEG");
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        uint32_t y = cinfo.output_scanline;
        JSAMPROW rows[1] = {(JSAMPROW)row};
        jpeg_read_scanlines(&cinfo, rows, 1);
        uint8_t *dst = pixels + (size_t)y * w * 3;
        if (components == 3) {
            memcpy(dst, row, (size_t)w * 3);
        } else {
            for (uint32_t x = 0; x < w; x++) {
                // Adobe CMYK JPEGs store inverted values: R = C·K / 255.
                const uint8_t *p = row + (size_t)x * 4;
                dst[3 * x + 0] = (uint8_t)((p[0] * p[3] + 127) / 255);
                dst[3 * x + 1] = (uint8_t)((p[1] * p[3] + 127) / 255);
                dst[3 * x + 2] = (uint8_t)((p[2] * p[3] + 127) / 255);
            }
        }
        if (err.truncated) break;
    }
    free(row);
    row = NULL;
    if (err.truncated) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        return fail(out, LI_TRUNCATED, "JPEG data ends early (premature end of file)");
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    if (err.truncated) {
        free(pixels);
        return fail(out, LI_TRUNCATED, "JPEG data ends early (premature end of file)");
    }
    uint32_t ow, oh;
    uint8_t *oriented = orient(pixels, w, h, out->orientation, &ow, &oh);
    if (!oriented) {
        free(pixels);
        return fail(out, LI_NO_MEMORY, "out of memory orienting JPEG");
    }
    out->pixels = oriented;
    out->width = ow;
    out->height = oh;
    return LI_OK;
}

// MARK: PNG

struct png_read_ctx {
    const uint8_t *data;
    size_t size;
    size_t offset;
    int truncated;
    char message[160];
};

static void png_read_memory(png_structp png, png_bytep dst, png_size_t length) {
    struct png_read_ctx *ctx = png_get_io_ptr(png);
    if (length > ctx->size - ctx->offset) {
        ctx->truncated = 1;
        png_error(png, "PNG data ends early");
    }
    memcpy(dst, ctx->data + ctx->offset, length);
    ctx->offset += length;
}

static void png_on_error(png_structp png, png_const_charp message) {
    struct png_read_ctx *ctx = png_get_error_ptr(png);
    snprintf(ctx->message, sizeof ctx->message, "%s", message);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp message) { (void)png; (void)message; }

static li_status decode_png(const uint8_t *data, size_t size, uint64_t max_pixels, int header_only, li_image *out) {
    // IHDR is the first chunk: check its dimensions before libpng allocates anything.
    if (size < 33) return fail(out, LI_TRUNCATED, "PNG data ends inside the header");
    if (memcmp(data + 12, "IHDR", 4) != 0) return fail(out, LI_CORRUPT, "PNG does not start with an IHDR chunk");
    uint32_t w = rd32(data + 16, 0), h = rd32(data + 20, 0);
    if (w == 0 || h == 0) return fail(out, LI_ZERO_SIZE, "PNG has zero width or height");
    if ((uint64_t)w * h > max_pixels) {
        out->format = LI_FORMAT_PNG;
        out->width = w;
        out->height = h;
        snprintf(out->message, sizeof out->message, "PNG is %ux%u = %llu pixels, above the budget of %llu", w, h,
                 (unsigned long long)w * h, (unsigned long long)max_pixels);
        return LI_TOO_LARGE;
    }
    struct png_read_ctx ctx = {data, size, 0, 0, {0}};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error, png_on_warning);
    if (!png) return fail(out, LI_NO_MEMORY, "cannot create PNG reader");
    png_infop info = png_create_info_struct(png);
    uint8_t *volatile rgba = NULL;
    png_bytep *volatile rows = NULL;
    uint8_t *volatile rgb = NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return fail(out, LI_NO_MEMORY, "cannot create PNG info");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(rgba);
        free(rows);
        free(rgb);
        return fail(out, ctx.truncated ? LI_TRUNCATED : LI_CORRUPT, ctx.message);
    }
    png_set_read_fn(png, &ctx, png_read_memory);
    png_set_user_limits(png, 0x7FFFFFFF, 0x7FFFFFFF);
    png_read_info(png, info);
    int bit_depth = png_get_bit_depth(png, info);
    int color_type = png_get_color_type(png, info);
    out->format = LI_FORMAT_PNG;
    out->width = w;
    out->height = h;
    out->orientation = 1;
    out->bit_depth = bit_depth;
    out->color_type = color_type;
    out->progressive = png_get_interlace_type(png, info) != PNG_INTERLACE_NONE;
    if (header_only) {
        png_destroy_read_struct(&png, &info, NULL);
        return LI_OK;
    }
    // Everything becomes 8-bit RGBA: palette and low-bit gray expanded, tRNS to alpha, 16-bit scaled
    // with rounding (v·255/65535), gray replicated, opaque alpha added where absent.
    png_set_expand(png);
    if (bit_depth == 16) png_set_scale_16(png);
    if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_add_alpha(png, 0xFF, PNG_FILLER_AFTER);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)w * 4) {
        png_error(png, "unexpected PNG row layout after transforms");
    }
    rgba = malloc((size_t)w * h * 4);
    rows = malloc(sizeof(png_bytep) * h);
    rgb = malloc((size_t)w * h * 3);
    if (!rgba || !rows || !rgb) png_error(png, "out of memory decoding PNG");
    for (uint32_t y = 0; y < h; y++) rows[y] = rgba + (size_t)y * w * 4;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    // Composite on white: c' = (c·a + 255·(255 − a)) / 255, rounded.
    size_t n = (size_t)w * h;
    for (size_t i = 0; i < n; i++) {
        unsigned a = rgba[4 * i + 3];
        for (int c = 0; c < 3; c++) {
            unsigned v = rgba[4 * i + c];
            rgb[3 * i + c] = (uint8_t)((v * a + 255 * (255 - a) + 127) / 255);
        }
    }
    png_destroy_read_struct(&png, &info, NULL);
    free(rgba);
    free(rows);
    out->pixels = rgb;
    return LI_OK;
}

li_status li_decode(const uint8_t *data, size_t size, uint64_t max_pixels, int header_only, li_image *out) {
    return li_decode_reduced(data, size, max_pixels, header_only, 0, out);
}

li_status li_decode_reduced(const uint8_t *data, size_t size, uint64_t max_pixels, int header_only, uint32_t min_side,
                            li_image *out) {
    memset(out, 0, sizeof *out);
    if (size == 0) return fail(out, LI_NOT_AN_IMAGE, "empty input (0 bytes)");
    li_status status;
    switch (li_sniff(data, size)) {
    case LI_FORMAT_JPEG: return decode_jpeg(data, size, max_pixels, header_only, min_side, out);
    case LI_FORMAT_PNG:
        status = decode_png(data, size, max_pixels, header_only, out);
        out->full_width = out->width;
        out->full_height = out->height;
        return status;
    default: return fail(out, LI_NOT_AN_IMAGE, "not a JPEG or PNG (unrecognised signature)");
    }
}

// MARK: encoding

struct png_write_ctx {
    uint8_t *data;
    size_t size;
    size_t capacity;
    int failed;
    char message[160];
};

static void png_write_memory(png_structp png, png_bytep src, png_size_t length) {
    struct png_write_ctx *ctx = png_get_io_ptr(png);
    if (ctx->size + length > ctx->capacity) {
        size_t capacity = ctx->capacity ? ctx->capacity : 4096;
        while (capacity < ctx->size + length) capacity *= 2;
        uint8_t *grown = realloc(ctx->data, capacity);
        if (!grown) png_error(png, "out of memory encoding PNG");
        ctx->data = grown;
        ctx->capacity = capacity;
    }
    memcpy(ctx->data + ctx->size, src, length);
    ctx->size += length;
}

static void png_flush_memory(png_structp png) { (void)png; }

static void png_on_write_error(png_structp png, png_const_charp message) {
    struct png_write_ctx *ctx = png_get_error_ptr(png);
    snprintf(ctx->message, sizeof ctx->message, "%s", message);
    png_longjmp(png, 1);
}

li_status li_encode_png(const uint8_t *pixels, uint32_t width, uint32_t height, int channels, uint8_t **out,
                        size_t *out_size, char *message, size_t message_size) {
    *out = NULL;
    *out_size = 0;
    if (width == 0 || height == 0) {
        snprintf(message, message_size, "cannot encode an empty image");
        return LI_ZERO_SIZE;
    }
    int color_type = channels == 1 ? PNG_COLOR_TYPE_GRAY : channels == 3 ? PNG_COLOR_TYPE_RGB
                   : channels == 4 ? PNG_COLOR_TYPE_RGBA : -1;
    if (color_type < 0) {
        snprintf(message, message_size, "PNG encoding takes 1, 3 or 4 channels, not %d", channels);
        return LI_CORRUPT;
    }
    struct png_write_ctx ctx = {NULL, 0, 0, 0, {0}};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_write_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        snprintf(message, message_size, "cannot create PNG writer");
        return LI_NO_MEMORY;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(ctx.data);
        snprintf(message, message_size, "%s", ctx.message);
        return LI_CORRUPT;
    }
    png_set_write_fn(png, &ctx, png_write_memory, png_flush_memory);
    png_set_IHDR(png, info, width, height, 8, color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (uint32_t y = 0; y < height; y++) {
        png_write_row(png, (png_const_bytep)(pixels + (size_t)y * width * channels));
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    *out = ctx.data;
    *out_size = ctx.size;
    return LI_OK;
}

li_status li_encode_jpeg(const uint8_t *pixels, uint32_t width, uint32_t height, int quality, int progressive,
                         uint8_t **out, size_t *out_size, char *message, size_t message_size) {
    *out = NULL;
    *out_size = 0;
    if (width == 0 || height == 0) {
        snprintf(message, message_size, "cannot encode an empty image");
        return LI_ZERO_SIZE;
    }
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_ctx err;
    unsigned char *mem = NULL;  // address taken: lives in memory across longjmp
    unsigned long size = 0;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&err.base);
    err.base.error_exit = jpeg_error_exit;
    err.base.output_message = jpeg_silent;
    if (setjmp(err.jump)) {
        char text[JMSG_LENGTH_MAX];
        (*cinfo.err->format_message)((j_common_ptr)&cinfo, text);
        jpeg_destroy_compress(&cinfo);
        free(mem);
        snprintf(message, message_size, "%s", text);
        return LI_CORRUPT;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &mem, &size);
    cinfo.image_width = width;
    cinfo.image_height = height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality < 1 ? 1 : quality > 100 ? 100 : quality, TRUE);
    if (progressive) jpeg_simple_progression(&cinfo);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * width * 3);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *out = mem;
    *out_size = size;
    return LI_OK;
}

li_status li_gunzip(const uint8_t *data, size_t size, size_t max_size, uint8_t **out, size_t *out_size,
                    char *message, size_t message_size) {
    *out = NULL;
    *out_size = 0;
    z_stream z;
    memset(&z, 0, sizeof z);
    // 15 + 32: a zlib or gzip header, detected automatically.
    if (inflateInit2(&z, 15 + 32) != Z_OK) {
        snprintf(message, message_size, "cannot initialise zlib");
        return LI_NO_MEMORY;
    }
    size_t capacity = size * 4 + 1024, used = 0;
    if (capacity > max_size) capacity = max_size;
    uint8_t *buffer = malloc(capacity ? capacity : 1);
    if (!buffer) { inflateEnd(&z); snprintf(message, message_size, "out of memory"); return LI_NO_MEMORY; }
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)size;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        if (used == capacity) {
            if (capacity >= max_size) {
                free(buffer); inflateEnd(&z);
                snprintf(message, message_size, "inflates to more than %zu bytes", max_size);
                return LI_TOO_LARGE;
            }
            size_t next = capacity * 2 > max_size ? max_size : capacity * 2;
            uint8_t *grown = realloc(buffer, next);
            if (!grown) { free(buffer); inflateEnd(&z); snprintf(message, message_size, "out of memory"); return LI_NO_MEMORY; }
            buffer = grown;
            capacity = next;
        }
        z.next_out = buffer + used;
        z.avail_out = (uInt)(capacity - used);
        rc = inflate(&z, Z_NO_FLUSH);
        used = capacity - z.avail_out;
        if (rc == Z_BUF_ERROR && z.avail_in == 0) {
            free(buffer); inflateEnd(&z);
            snprintf(message, message_size, "the compressed data ends early");
            return LI_TRUNCATED;
        }
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
            snprintf(message, message_size, "not valid gzip data: %s", z.msg ? z.msg : "inflate failed");
            free(buffer); inflateEnd(&z);
            return LI_CORRUPT;
        }
    }
    inflateEnd(&z);
    *out = buffer;
    *out_size = used;
    return LI_OK;
}
