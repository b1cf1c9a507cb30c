// C API over libtorch 1.13, modelled on tch-rs's torch-sys (torch_api.h).
//
// Conventions
// - Handles are opaque pointers: `lt_tensor` is a `torch::Tensor *` to C++, an opaque pointer to C.
// - Every call that can fail returns `lt_error`: NULL on success, otherwise a heap-allocated,
//   NUL-terminated message that the caller frees with `lt_error_free`. No C++ exception crosses
//   this boundary (every body runs inside PROTECT in torch_api.cpp).
// - Every call that creates a tensor writes an owned handle to `*out`; the caller frees it with
//   `lt_tensor_free`. On error nothing is written to `*out` and nothing is allocated.
// - Shapes and dimension lists are passed as (pointer, count).
#ifndef LOUPE_TORCH_API_H
#define LOUPE_TORCH_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lt_tensor_opaque *lt_tensor;
typedef struct lt_optimizer_opaque *lt_optimizer;
typedef struct lt_module_opaque *lt_module;
typedef char *lt_error;

// Element types (values are ours, mapped to c10::ScalarType in the shim).
typedef enum {
    LT_FLOAT32 = 0,
    LT_FLOAT64 = 1,
    LT_INT64 = 2,
    LT_INT32 = 3,
    LT_UINT8 = 4,
    LT_BOOL = 5,
    LT_FLOAT16 = 6,
    LT_BFLOAT16 = 7,
    LT_INT8 = 8,
    LT_INT16 = 9,
} lt_dtype;

void lt_error_free(lt_error error);

// MARK: runtime
lt_error lt_set_num_threads(int threads);
int lt_get_num_threads(void);
// glibc's malloc: blocks below mmap_threshold come from the heap, and free memory is returned to the
// kernel only above trim_threshold (mallopt M_MMAP_THRESHOLD, M_TRIM_THRESHOLD).
void lt_keep_freed_memory(size_t mmap_threshold, size_t trim_threshold);
// The OpenBLAS kernel family (OPENBLAS_CORETYPE) this CPU should use when the library fell back to a
// pre-AVX core because it does not know the CPU model; NULL when no change is needed or the BLAS is
// not OpenBLAS. The core OpenBLAS chose is written to `current` (may be NULL).
const char *lt_blas_core_suggestion(char *current, size_t capacity);
lt_error lt_manual_seed(uint64_t seed);
int lt_is_grad_enabled(void);
void lt_set_grad_enabled(int enabled);
const char *lt_version(void);

// MARK: lifetime and inspection
void lt_tensor_free(lt_tensor tensor);
int64_t lt_tensor_dim(lt_tensor tensor);
void lt_tensor_shape(lt_tensor tensor, int64_t *shape_out);
int lt_tensor_dtype(lt_tensor tensor);
int64_t lt_tensor_numel(lt_tensor tensor);
int lt_tensor_defined(lt_tensor tensor);
int lt_tensor_requires_grad(lt_tensor tensor);
lt_error lt_tensor_set_requires_grad(lt_tensor tensor, int requires_grad);
// Copies the tensor's elements, converted to `dtype`, contiguous and row-major, into `dst`.
lt_error lt_tensor_copy_to(lt_tensor tensor, int dtype, void *dst, size_t nbytes);
lt_error lt_tensor_item_double(lt_tensor tensor, double *out);
lt_error lt_tensor_to_string(lt_tensor tensor, char **out);  // free with lt_error_free
lt_error lt_tensor_shallow_clone(lt_tensor tensor, lt_tensor *out);

// MARK: creation
lt_error lt_from_data(const void *data, int dtype, const int64_t *shape, int ndim, lt_tensor *out);
lt_error lt_scalar_tensor(double value, int dtype, lt_tensor *out);
lt_error lt_zeros(const int64_t *shape, int ndim, int dtype, lt_tensor *out);
lt_error lt_ones(const int64_t *shape, int ndim, int dtype, lt_tensor *out);
lt_error lt_full(const int64_t *shape, int ndim, double value, int dtype, lt_tensor *out);
lt_error lt_randn(const int64_t *shape, int ndim, int dtype, lt_tensor *out);
lt_error lt_rand(const int64_t *shape, int ndim, int dtype, lt_tensor *out);
lt_error lt_randint(int64_t low, int64_t high, const int64_t *shape, int ndim, lt_tensor *out);
lt_error lt_randperm(int64_t n, lt_tensor *out);
lt_error lt_arange(double start, double end, double step, int dtype, lt_tensor *out);
lt_error lt_linspace(double start, double end, int64_t steps, int dtype, lt_tensor *out);
lt_error lt_eye(int64_t n, int dtype, lt_tensor *out);
lt_error lt_as_strided_copy(lt_tensor storage, const int64_t *shape, int ndim, const int64_t *strides,
                            int64_t offset, lt_tensor *out);

// MARK: element-wise
typedef enum {
    LT_NEG, LT_EXP, LT_LOG, LT_SQRT, LT_RSQRT, LT_ABS, LT_RELU, LT_TANH, LT_SIGMOID, LT_GELU,
    LT_GELU_TANH, LT_SIN, LT_COS, LT_FLOOR, LT_CEIL, LT_ROUND, LT_SIGN, LT_LOGICAL_NOT, LT_SQUARE,
    LT_RECIPROCAL, LT_SILU, LT_LOG1P, LT_ISNAN, LT_ISFINITE, LT_RELU6, LT_HARDSWISH, LT_HARDSIGMOID,
} lt_unary_op;
lt_error lt_unary(int op, lt_tensor a, lt_tensor *out);

typedef enum {
    LT_ADD, LT_SUB, LT_MUL, LT_DIV, LT_POW, LT_MAXIMUM, LT_MINIMUM, LT_EQ, LT_NE, LT_LT, LT_LE, LT_GT,
    LT_GE, LT_LOGICAL_AND, LT_LOGICAL_OR, LT_MATMUL, LT_REMAINDER, LT_ATAN2, LT_FLOOR_DIVIDE,
} lt_binary_op;
lt_error lt_binary(int op, lt_tensor a, lt_tensor b, lt_tensor *out);
// `a op s`; LT_RSUB-like forms are written as binary ops on a scalar tensor by the Swift layer.
lt_error lt_binary_scalar(int op, lt_tensor a, double s, lt_tensor *out);
lt_error lt_clamp(lt_tensor a, double lo, double hi, int has_lo, int has_hi, lt_tensor *out);
lt_error lt_where(lt_tensor cond, lt_tensor a, lt_tensor b, lt_tensor *out);
lt_error lt_masked_fill(lt_tensor a, lt_tensor mask, double value, lt_tensor *out);
lt_error lt_to_dtype(lt_tensor a, int dtype, lt_tensor *out);
lt_error lt_detach(lt_tensor a, lt_tensor *out);
lt_error lt_clone(lt_tensor a, lt_tensor *out);
lt_error lt_contiguous(lt_tensor a, lt_tensor *out);
// Contiguous in channels-last order (NHWC strides, the shape unchanged), for a 4-d tensor; and whether
// a tensor is laid out so (1) or not (0).
lt_error lt_contiguous_channels_last(lt_tensor a, lt_tensor *out);
int lt_is_channels_last(lt_tensor a);

// In place (used by optimizers, EMA, running statistics); these bypass autograd history checks
// only where libtorch allows it (call them under no-grad for leaves that require grad).
typedef enum { LT_INPLACE_COPY, LT_INPLACE_ADD, LT_INPLACE_MUL, LT_INPLACE_SUB } lt_inplace_op;
lt_error lt_inplace(int op, lt_tensor self, lt_tensor other, double alpha);
typedef enum { LT_INPLACE_FILL, LT_INPLACE_ADD_SCALAR, LT_INPLACE_MUL_SCALAR } lt_inplace_scalar_op;
lt_error lt_inplace_scalar(int op, lt_tensor self, double value);
lt_error lt_normal_(lt_tensor self, double mean, double std);
lt_error lt_uniform_(lt_tensor self, double lo, double hi);

// MARK: shape
lt_error lt_reshape(lt_tensor a, const int64_t *shape, int ndim, lt_tensor *out);
lt_error lt_permute(lt_tensor a, const int64_t *dims, int ndim, lt_tensor *out);
lt_error lt_transpose(lt_tensor a, int64_t d0, int64_t d1, lt_tensor *out);
lt_error lt_cat(const lt_tensor *tensors, int count, int64_t dim, lt_tensor *out);
lt_error lt_stack(const lt_tensor *tensors, int count, int64_t dim, lt_tensor *out);
lt_error lt_index_select(lt_tensor a, int64_t dim, lt_tensor index, lt_tensor *out);
lt_error lt_gather(lt_tensor a, int64_t dim, lt_tensor index, lt_tensor *out);
lt_error lt_slice(lt_tensor a, int64_t dim, int64_t start, int64_t end, int64_t step, lt_tensor *out);
lt_error lt_select(lt_tensor a, int64_t dim, int64_t index, lt_tensor *out);
lt_error lt_squeeze(lt_tensor a, int64_t dim, lt_tensor *out);
lt_error lt_unsqueeze(lt_tensor a, int64_t dim, lt_tensor *out);
lt_error lt_expand(lt_tensor a, const int64_t *shape, int ndim, lt_tensor *out);
lt_error lt_repeat(lt_tensor a, const int64_t *repeats, int ndim, lt_tensor *out);
lt_error lt_flatten(lt_tensor a, int64_t start, int64_t end, lt_tensor *out);
lt_error lt_flip(lt_tensor a, const int64_t *dims, int ndim, lt_tensor *out);
lt_error lt_masked_select(lt_tensor a, lt_tensor mask, lt_tensor *out);
lt_error lt_tril(lt_tensor a, int64_t diagonal, lt_tensor *out);
lt_error lt_triu(lt_tensor a, int64_t diagonal, lt_tensor *out);
// Constant padding; `pad` as in torch.nn.functional.pad (last dimension first).
lt_error lt_pad(lt_tensor a, const int64_t *pad, int npad, int mode, double value, lt_tensor *out);

// MARK: reductions
typedef enum { LT_SUM, LT_MEAN, LT_AMAX, LT_AMIN, LT_PROD, LT_STD, LT_VAR, LT_LOGSUMEXP, LT_ALL, LT_ANY,
               LT_NORM } lt_reduce_op;
// ndims == 0 reduces over every dimension.
lt_error lt_reduce(int op, lt_tensor a, const int64_t *dims, int ndims, int keepdim, lt_tensor *out);
lt_error lt_argmax(lt_tensor a, int64_t dim, int keepdim, lt_tensor *out);
lt_error lt_argmin(lt_tensor a, int64_t dim, int keepdim, lt_tensor *out);
lt_error lt_topk(lt_tensor a, int64_t k, int64_t dim, int largest, int sorted, lt_tensor *values,
                 lt_tensor *indices);
lt_error lt_sort(lt_tensor a, int64_t dim, int descending, lt_tensor *values, lt_tensor *indices);
// Symmetric (Hermitian) eigendecomposition of the lower triangle: ascending eigenvalues, eigenvectors as columns.
lt_error lt_linalg_eigh(lt_tensor a, lt_tensor *eigenvalues, lt_tensor *eigenvectors);
lt_error lt_cumsum(lt_tensor a, int64_t dim, lt_tensor *out);
lt_error lt_multinomial(lt_tensor probs, int64_t samples, int replacement, lt_tensor *out);

// MARK: neural network functions
lt_error lt_softmax(lt_tensor a, int64_t dim, lt_tensor *out);
lt_error lt_log_softmax(lt_tensor a, int64_t dim, lt_tensor *out);
lt_error lt_leaky_relu(lt_tensor a, double slope, lt_tensor *out);
lt_error lt_dropout(lt_tensor a, double p, int train, lt_tensor *out);
lt_error lt_linear(lt_tensor x, lt_tensor weight, lt_tensor bias /* nullable */, lt_tensor *out);
lt_error lt_conv2d(lt_tensor x, lt_tensor weight, lt_tensor bias, const int64_t *stride,
                   const int64_t *padding, const int64_t *dilation, int64_t groups, lt_tensor *out);
lt_error lt_conv_transpose2d(lt_tensor x, lt_tensor weight, lt_tensor bias, const int64_t *stride,
                             const int64_t *padding, const int64_t *output_padding, int64_t groups,
                             const int64_t *dilation, lt_tensor *out);
lt_error lt_batch_norm(lt_tensor x, lt_tensor weight, lt_tensor bias, lt_tensor running_mean,
                       lt_tensor running_var, int training, double momentum, double eps, lt_tensor *out);
lt_error lt_layer_norm(lt_tensor x, const int64_t *normalized_shape, int ndim, lt_tensor weight,
                       lt_tensor bias, double eps, lt_tensor *out);
lt_error lt_max_pool2d(lt_tensor x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                       int ceil_mode, lt_tensor *out);
lt_error lt_avg_pool2d(lt_tensor x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                       int ceil_mode, int count_include_pad, lt_tensor *out);
lt_error lt_adaptive_avg_pool2d(lt_tensor x, const int64_t *output_size, lt_tensor *out);
lt_error lt_adaptive_max_pool2d(lt_tensor x, const int64_t *output_size, lt_tensor *out);
lt_error lt_embedding(lt_tensor weight, lt_tensor indices, int64_t padding_idx, lt_tensor *out);
typedef enum { LT_INTERP_NEAREST, LT_INTERP_BILINEAR, LT_INTERP_BICUBIC, LT_INTERP_AREA } lt_interp_mode;
lt_error lt_interpolate(lt_tensor x, const int64_t *size, int mode, int align_corners, int antialias,
                        lt_tensor *out);
lt_error lt_affine_grid(lt_tensor theta, const int64_t *size, int ndim, int align_corners, lt_tensor *out);
// padding_mode: 0 zeros, 1 border, 2 reflection; mode: 0 bilinear, 1 nearest.
lt_error lt_grid_sample(lt_tensor x, lt_tensor grid, int mode, int padding_mode, int align_corners,
                        lt_tensor *out);
// Colour statistics of photos x (N, 3, H, W) in [0, 1], RGB → (N, LT_COLOUR_STATISTICS) float32, per
// image: the background's colour (border median), histograms, quantiles and moments of the piece's colour,
// and hue histograms of saturated pixels. The layout and the NumPy reference: scripts/reference/colour_statistics.py.
#define LT_COLOUR_STATISTICS 309
lt_error lt_colour_statistics(lt_tensor x, lt_tensor *out);

// MARK: losses (reduction: 0 none, 1 mean, 2 sum)
lt_error lt_cross_entropy(lt_tensor logits, lt_tensor target, lt_tensor weight /* nullable */,
                          int reduction, int64_t ignore_index, double label_smoothing, lt_tensor *out);
lt_error lt_bce_with_logits(lt_tensor logits, lt_tensor target, lt_tensor weight, lt_tensor pos_weight,
                            int reduction, lt_tensor *out);
lt_error lt_mse_loss(lt_tensor x, lt_tensor target, int reduction, lt_tensor *out);
lt_error lt_l1_loss(lt_tensor x, lt_tensor target, int reduction, lt_tensor *out);

// MARK: autograd
lt_error lt_backward(lt_tensor t, lt_tensor gradient /* nullable */, int retain_graph);
// Writes NULL to *out when the tensor has no gradient yet.
lt_error lt_grad(lt_tensor t, lt_tensor *out);
lt_error lt_zero_grad(lt_tensor t);
// Total L2 norm of the gradients before clipping in *total_norm.
lt_error lt_clip_grad_norm(const lt_tensor *params, int count, double max_norm, double *total_norm);

// MARK: optimizers (the optimizer keeps its own references to the parameters)
typedef enum { LT_OPT_ADAM, LT_OPT_ADAMW, LT_OPT_SGD } lt_optimizer_kind;
lt_error lt_optimizer_new(int kind, const lt_tensor *params, int count, double lr, double beta1,
                          double beta2, double eps, double weight_decay, double momentum, int amsgrad,
                          lt_optimizer *out);
void lt_optimizer_free(lt_optimizer opt);
lt_error lt_optimizer_step(lt_optimizer opt);
lt_error lt_optimizer_zero_grad(lt_optimizer opt);
lt_error lt_optimizer_set_lr(lt_optimizer opt, double lr);
lt_error lt_optimizer_save(lt_optimizer opt, const char *path);
lt_error lt_optimizer_load(lt_optimizer opt, const char *path);

// MARK: serialization
// Writes a {name: tensor} dict with torch::pickle_save: the zip format that Python's torch.load reads.
lt_error lt_save_tensor_dict(const char *const *names, const lt_tensor *tensors, int count,
                             const char *path);

// MARK: TorchScript
lt_error lt_jit_load(const char *path, lt_module *out);
void lt_jit_free(lt_module module);
lt_error lt_jit_eval(lt_module module);
// Calls forward with tensor inputs; the output must be a tensor (or a tuple whose first item is one).
lt_error lt_jit_forward(lt_module module, const lt_tensor *inputs, int count, lt_tensor *out);

// MARK: fused captioner decoder (inference only)
// Two objects. lt_decoder_weights: a model's decoder, copied once and with every matrix the step
// multiplies by repacked into column panels for the few-rows kernel; immutable, so any number of
// searches (on any threads) may share it. lt_decoder: one search over G images in step — their
// cross-attention keys and values and a key/value cache for up to `max_rows` beams × the positions
// table's length (each row belongs to one image, named at every step); it
// keeps its weights alive, so the two may be freed in either order. Each lt_decoder_step runs every
// pre-norm block (causal self-attention over the cache, cross-attention over the image grid, GELU MLP)
// and the tied output projection on one new token per row: one call per generated token instead of
// about eighty libtorch operators, in plain loops (BLAS sgemm beyond 64 rows).
typedef struct lt_decoder_weights_opaque *lt_decoder_weights;
typedef struct lt_decoder_opaque *lt_decoder;
// weights: per block 18 float32 tensors — ln1 weight, bias; self-attention in_proj weight (3d, d), bias
// (3d); its out_proj weight (d, d), bias; ln2 weight, bias; cross-attention in_proj weight (3d, d), bias;
// its out_proj weight, bias; ln3 weight, bias; mlp fc weight (h, d), bias (h); mlp proj weight (d, h),
// bias — then the token embedding (V, d) (also the output projection), the positions (P, d) and the
// final norm's weight and bias. The tensors are copied: later changes to them are not seen.
lt_error lt_decoder_weights_new(const lt_tensor *weights, int count, int layers, int heads, double eps,
                                lt_decoder_weights *out);
void lt_decoder_weights_free(lt_decoder_weights weights);
int64_t lt_decoder_weights_vocabulary(lt_decoder_weights weights);
// Caps the vector instructions of the shim's own kernels (the decoder step's panels) at `level`:
// 0 plain C++, 1 AVX2 + FMA, 2 AVX-512 (the default: whatever the CPU has). Returns the previous cap.
// For tests, which run every level the CPU supports.
int lt_kernel_limit(int level);
// memory: the images' decoder memory (G, M, d).
lt_error lt_decoder_new(lt_decoder_weights weights, lt_tensor memory, int max_rows, lt_decoder *out);
void lt_decoder_free(lt_decoder decoder);
// tokens[rows] at `position` (how many tokens each row's cache already holds), row r attending over
// image images[r] (NULL: image 0 for every row) → log-probabilities of the next token, rows × V floats
// written to log_probs (capacity in floats). Appends the rows' keys and values to the cache.
lt_error lt_decoder_step(lt_decoder decoder, const int64_t *tokens, const int64_t *images, int rows,
                         int64_t position, float *log_probs, size_t capacity);
// After a search step: row i of the cache becomes old row parents[i] (first `length` positions).
lt_error lt_decoder_reorder(lt_decoder decoder, const int64_t *parents, int rows, int64_t length);

// MBConv encoder (EfficientNet-Lite) run on oneDNN directly, for inference. libtorch's convolution goes
// to the same oneDNN kernels but leaves ReLU6, the residual additions and the asymmetric "SAME" padding
// to separate passes over every activation and reorders the weights on every call; here each
// convolution is one oneDNN primitive with its bias, ReLU6 (eltwise clip) or residual sum as post-ops,
// its asymmetric padding inside, weights reordered once, activations channels-last (NHWC) throughout.
// Primitives are built per input shape (N, H, W) and kept.
typedef struct lt_mbconv_opaque *lt_mbconv;
// Layer kinds, in network order: one STEM, then per block an optional EXPAND, a DEPTHWISE and a PROJECT,
// then one HEAD. Every kind but PROJECT ends in ReLU6.
typedef enum { LT_MBCONV_STEM, LT_MBCONV_EXPAND, LT_MBCONV_DEPTHWISE, LT_MBCONV_PROJECT, LT_MBCONV_HEAD } lt_mbconv_kind;
// Layer flags (PROJECT only): add the block's input (residual); record the spatial mean of the block's
// output as a tap. The HEAD is always tapped.
enum { LT_MBCONV_RESIDUAL = 1, LT_MBCONV_TAP = 2 };
// Per layer: weight (Cout, Cin / groups, k, k) and bias (Cout), float32, batch norm already folded in
// (copied); stride; groups; kind; flags (LT_MBCONV_RESIDUAL | LT_MBCONV_TAP).
lt_error lt_mbconv_new(const lt_tensor *weights, const lt_tensor *biases, const int *strides, const int *groups,
                       const int *kinds, const int *flags, int count, lt_mbconv *out);
void lt_mbconv_free(lt_mbconv encoder);
// x (N, 3, H, W) float32 → grid: the head's output (N, C, H', W'), channels-last strides; pooled: the
// taps' spatial means concatenated, (N, ΣC). One call at a time per encoder.
lt_error lt_mbconv_encode(lt_mbconv encoder, lt_tensor x, lt_tensor *grid, lt_tensor *pooled);

#ifdef __cplusplus
}
#endif

#endif
