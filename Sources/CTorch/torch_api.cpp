// libtorch 1.13 behind the C API in include/torch_api.h. Every entry point runs in PROTECT, so a
// C++ exception (c10::Error, std::exception, anything else) becomes a returned error string.
#include "torch_api.h"

#include <torch/script.h>
#include <torch/torch.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <dlfcn.h>
#include <malloc.h>
#include <strings.h>

#include <algorithm>
#include <atomic>
#include <immintrin.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

lt_error make_error(const char *message) {
    size_t n = std::strlen(message);
    char *copy = static_cast<char *>(std::malloc(n + 1));
    if (copy) std::memcpy(copy, message, n + 1);
    return copy;
}

#define PROTECT(...)                                                    \
    try {                                                               \
        __VA_ARGS__;                                                           \
        return nullptr;                                                 \
    } catch (const c10::Error &e) {                                     \
        return make_error(e.what_without_backtrace());                  \
    } catch (const std::exception &e) {                                 \
        return make_error(e.what());                                    \
    } catch (...) {                                                     \
        return make_error("unknown C++ exception in libtorch");         \
    }

inline torch::Tensor &T(lt_tensor t) { return *reinterpret_cast<torch::Tensor *>(t); }
inline lt_tensor wrap(torch::Tensor t) { return reinterpret_cast<lt_tensor>(new torch::Tensor(std::move(t))); }
inline c10::optional<torch::Tensor> opt(lt_tensor t) {
    if (t == nullptr) return c10::nullopt;
    return T(t);
}
inline torch::Tensor or_undefined(lt_tensor t) { return t ? T(t) : torch::Tensor(); }
inline at::IntArrayRef ints(const int64_t *p, int n) { return at::IntArrayRef(p, static_cast<size_t>(n)); }

torch::ScalarType scalar_type(int dtype) {
    switch (dtype) {
    case LT_FLOAT32: return torch::kFloat32;
    case LT_FLOAT64: return torch::kFloat64;
    case LT_INT64: return torch::kInt64;
    case LT_INT32: return torch::kInt32;
    case LT_UINT8: return torch::kUInt8;
    case LT_BOOL: return torch::kBool;
    case LT_FLOAT16: return torch::kFloat16;
    case LT_BFLOAT16: return torch::kBFloat16;
    case LT_INT8: return torch::kInt8;
    case LT_INT16: return torch::kInt16;
    }
    throw std::invalid_argument("unknown dtype code " + std::to_string(dtype));
}

int dtype_code(torch::ScalarType t) {
    switch (t) {
    case torch::kFloat32: return LT_FLOAT32;
    case torch::kFloat64: return LT_FLOAT64;
    case torch::kInt64: return LT_INT64;
    case torch::kInt32: return LT_INT32;
    case torch::kUInt8: return LT_UINT8;
    case torch::kBool: return LT_BOOL;
    case torch::kFloat16: return LT_FLOAT16;
    case torch::kBFloat16: return LT_BFLOAT16;
    case torch::kInt8: return LT_INT8;
    case torch::kInt16: return LT_INT16;
    default: return -1;
    }
}

torch::TensorOptions options(int dtype) { return torch::TensorOptions().dtype(scalar_type(dtype)); }

at::Reduction::Reduction reduction(int r) {
    switch (r) {
    case 0: return at::Reduction::None;
    case 1: return at::Reduction::Mean;
    case 2: return at::Reduction::Sum;
    }
    throw std::invalid_argument("unknown reduction " + std::to_string(r));
}

std::vector<torch::Tensor> tensors(const lt_tensor *p, int n) {
    std::vector<torch::Tensor> v;
    v.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; i++) v.push_back(T(p[i]));
    return v;
}

struct Optimizer {
    std::unique_ptr<torch::optim::Optimizer> impl;
};

}  // namespace

extern "C" {

void lt_error_free(lt_error error) { std::free(error); }

// MARK: runtime

lt_error lt_set_num_threads(int threads) {
    PROTECT({
        if (threads < 1) throw std::invalid_argument("thread count must be at least 1");
        at::set_num_threads(threads);
        // Inter-op threads can be set once, before any parallel work; later calls keep the first value.
        try {
            at::set_num_interop_threads(threads);
        } catch (const c10::Error &) {
        }
    })
}
int lt_get_num_threads(void) { return at::get_num_threads(); }
void lt_keep_freed_memory(size_t mmap_threshold, size_t trim_threshold) {
    mallopt(M_MMAP_THRESHOLD, static_cast<int>(std::min<size_t>(mmap_threshold, INT32_MAX)));
    mallopt(M_TRIM_THRESHOLD, static_cast<int>(std::min<size_t>(trim_threshold, INT32_MAX)));
}

// OpenBLAS chooses its kernels by CPU model when it loads. A model newer than the library knows (Debian
// 12's 0.3.21 on an Emerald Rapids host reports "Prescott") gets the SSE3 fallback, although the CPU
// runs the AVX-512 or AVX2 kernels: sgemm, and every convolution and linear layer on it, then runs
// several times slower. Returns the kernel family to ask for through OPENBLAS_CORETYPE, or NULL when
// the BLAS is not OpenBLAS or chose a core with AVX.
const char *lt_blas_core_suggestion(char *current, size_t capacity) {
    using CoreName = char *(*)();
    auto corename = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
    if (!corename) return nullptr;
    const char *name = corename();
    if (!name) return nullptr;
    if (current && capacity) std::snprintf(current, capacity, "%s", name);
    static const char *const withoutAVX[] = {"prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "unknown"};
    bool fallback = false;
    for (const char *old : withoutAVX) fallback = fallback || strcasecmp(name, old) == 0;
    if (!fallback) return nullptr;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    return nullptr;
}
lt_error lt_manual_seed(uint64_t seed) { PROTECT(torch::manual_seed(seed)) }
int lt_is_grad_enabled(void) { return c10::GradMode::is_enabled() ? 1 : 0; }
void lt_set_grad_enabled(int enabled) { c10::GradMode::set_enabled(enabled != 0); }
const char *lt_version(void) { return TORCH_VERSION; }

// MARK: lifetime and inspection

void lt_tensor_free(lt_tensor tensor) { delete reinterpret_cast<torch::Tensor *>(tensor); }
int64_t lt_tensor_dim(lt_tensor tensor) { return T(tensor).dim(); }
void lt_tensor_shape(lt_tensor tensor, int64_t *shape_out) {
    auto sizes = T(tensor).sizes();
    for (size_t i = 0; i < sizes.size(); i++) shape_out[i] = sizes[i];
}
int lt_tensor_dtype(lt_tensor tensor) { return dtype_code(T(tensor).scalar_type()); }
int64_t lt_tensor_numel(lt_tensor tensor) { return T(tensor).numel(); }
int lt_tensor_defined(lt_tensor tensor) { return T(tensor).defined() ? 1 : 0; }
int lt_tensor_requires_grad(lt_tensor tensor) { return T(tensor).requires_grad() ? 1 : 0; }
lt_error lt_tensor_set_requires_grad(lt_tensor tensor, int requires_grad) {
    PROTECT(T(tensor).set_requires_grad(requires_grad != 0))
}
lt_error lt_tensor_copy_to(lt_tensor tensor, int dtype, void *dst, size_t nbytes) {
    PROTECT({
        auto t = T(tensor).detach().to(scalar_type(dtype)).contiguous();
        size_t need = static_cast<size_t>(t.numel()) * t.element_size();
        if (need != nbytes)
            throw std::invalid_argument("copy_to: destination holds " + std::to_string(nbytes) +
                                        " bytes, tensor needs " + std::to_string(need));
        if (need > 0) std::memcpy(dst, t.data_ptr(), need);
    })
}
lt_error lt_tensor_item_double(lt_tensor tensor, double *out) { PROTECT(*out = T(tensor).item<double>()) }
lt_error lt_tensor_to_string(lt_tensor tensor, char **out) {
    PROTECT({
        std::ostringstream s;
        s << T(tensor);
        *out = make_error(s.str().c_str());
    })
}
lt_error lt_tensor_shallow_clone(lt_tensor tensor, lt_tensor *out) { PROTECT(*out = wrap(T(tensor))) }

// MARK: creation

lt_error lt_from_data(const void *data, int dtype, const int64_t *shape, int ndim, lt_tensor *out) {
    PROTECT({
        auto t = torch::empty(ints(shape, ndim), options(dtype));
        size_t n = static_cast<size_t>(t.numel()) * t.element_size();
        if (n > 0) std::memcpy(t.data_ptr(), data, n);
        *out = wrap(t);
    })
}
lt_error lt_scalar_tensor(double value, int dtype, lt_tensor *out) {
    PROTECT(*out = wrap(torch::scalar_tensor(value, options(dtype))))
}
lt_error lt_zeros(const int64_t *shape, int ndim, int dtype, lt_tensor *out) {
    PROTECT(*out = wrap(torch::zeros(ints(shape, ndim), options(dtype))))
}
lt_error lt_ones(const int64_t *shape, int ndim, int dtype, lt_tensor *out) {
    PROTECT(*out = wrap(torch::ones(ints(shape, ndim), options(dtype))))
}
lt_error lt_full(const int64_t *shape, int ndim, double value, int dtype, lt_tensor *out) {
    PROTECT(*out = wrap(torch::full(ints(shape, ndim), value, options(dtype))))
}
lt_error lt_randn(const int64_t *shape, int ndim, int dtype, lt_tensor *out) {
    PROTECT(*out = wrap(torch::randn(ints(shape, ndim), options(dtype))))
}
lt_error lt_rand(const int64_t *shape, int ndim, int dtype, lt_tensor *out) {
    PROTECT(*out = wrap(torch::rand(ints(shape, ndim), options(dtype))))
}
lt_error lt_randint(int64_t low, int64_t high, const int64_t *shape, int ndim, lt_tensor *out) {
    PROTECT(*out = wrap(torch::randint(low, high, ints(shape, ndim), options(LT_INT64))))
}
lt_error lt_randperm(int64_t n, lt_tensor *out) { PROTECT(*out = wrap(torch::randperm(n, options(LT_INT64)))) }
lt_error lt_arange(double start, double end, double step, int dtype, lt_tensor *out) {
    PROTECT(*out = wrap(torch::arange(start, end, step, options(dtype))))
}
lt_error lt_linspace(double start, double end, int64_t steps, int dtype, lt_tensor *out) {
    PROTECT(*out = wrap(torch::linspace(start, end, steps, options(dtype))))
}
lt_error lt_eye(int64_t n, int dtype, lt_tensor *out) { PROTECT(*out = wrap(torch::eye(n, options(dtype)))) }
lt_error lt_as_strided_copy(lt_tensor storage, const int64_t *shape, int ndim, const int64_t *strides,
                            int64_t offset, lt_tensor *out) {
    PROTECT(*out = wrap(T(storage).as_strided(ints(shape, ndim), ints(strides, ndim), offset).clone()))
}

// MARK: element-wise

lt_error lt_unary(int op, lt_tensor a, lt_tensor *out) {
    PROTECT({
        auto &x = T(a);
        torch::Tensor r;
        switch (op) {
        case LT_NEG: r = x.neg(); break;
        case LT_EXP: r = x.exp(); break;
        case LT_LOG: r = x.log(); break;
        case LT_SQRT: r = x.sqrt(); break;
        case LT_RSQRT: r = x.rsqrt(); break;
        case LT_ABS: r = x.abs(); break;
        case LT_RELU: r = torch::relu(x); break;
        case LT_TANH: r = x.tanh(); break;
        case LT_SIGMOID: r = x.sigmoid(); break;
        case LT_GELU: r = torch::gelu(x); break;
        case LT_GELU_TANH: r = torch::gelu(x, "tanh"); break;
        case LT_SIN: r = x.sin(); break;
        case LT_COS: r = x.cos(); break;
        case LT_FLOOR: r = x.floor(); break;
        case LT_CEIL: r = x.ceil(); break;
        case LT_ROUND: r = x.round(); break;
        case LT_SIGN: r = x.sign(); break;
        case LT_LOGICAL_NOT: r = x.logical_not(); break;
        case LT_SQUARE: r = x.square(); break;
        case LT_RECIPROCAL: r = x.reciprocal(); break;
        case LT_SILU: r = torch::silu(x); break;
        case LT_LOG1P: r = x.log1p(); break;
        case LT_ISNAN: r = x.isnan(); break;
        case LT_ISFINITE: r = x.isfinite(); break;
        case LT_RELU6: r = torch::hardtanh(x, 0.0, 6.0); break;
        case LT_HARDSWISH: r = torch::hardswish(x); break;
        case LT_HARDSIGMOID: r = torch::hardsigmoid(x); break;
        default: throw std::invalid_argument("unknown unary op " + std::to_string(op));
        }
        *out = wrap(r);
    })
}

static torch::Tensor binary_impl(int op, const torch::Tensor &x, const torch::Tensor &y) {
    switch (op) {
    case LT_ADD: return x + y;
    case LT_SUB: return x - y;
    case LT_MUL: return x * y;
    case LT_DIV: return x / y;
    case LT_POW: return x.pow(y);
    case LT_MAXIMUM: return torch::maximum(x, y);
    case LT_MINIMUM: return torch::minimum(x, y);
    case LT_EQ: return x.eq(y);
    case LT_NE: return x.ne(y);
    case LT_LT: return x.lt(y);
    case LT_LE: return x.le(y);
    case LT_GT: return x.gt(y);
    case LT_GE: return x.ge(y);
    case LT_LOGICAL_AND: return x.logical_and(y);
    case LT_LOGICAL_OR: return x.logical_or(y);
    case LT_MATMUL: return x.matmul(y);
    case LT_REMAINDER: return x.remainder(y);
    case LT_ATAN2: return x.atan2(y);
    case LT_FLOOR_DIVIDE: return x.div(y, "floor");
    }
    throw std::invalid_argument("unknown binary op " + std::to_string(op));
}

lt_error lt_binary(int op, lt_tensor a, lt_tensor b, lt_tensor *out) {
    PROTECT(*out = wrap(binary_impl(op, T(a), T(b))))
}
lt_error lt_binary_scalar(int op, lt_tensor a, double s, lt_tensor *out) {
    PROTECT({
        auto &x = T(a);
        // A wrapped-number scalar keeps x's dtype (int64 stays int64 when s is integral).
        auto y = torch::scalar_tensor(s, torch::TensorOptions().dtype(torch::kFloat64));
        y.unsafeGetTensorImpl()->set_wrapped_number(true);
        *out = wrap(binary_impl(op, x, y));
    })
}
lt_error lt_clamp(lt_tensor a, double lo, double hi, int has_lo, int has_hi, lt_tensor *out) {
    PROTECT({
        c10::optional<c10::Scalar> l = has_lo ? c10::optional<c10::Scalar>(lo) : c10::nullopt;
        c10::optional<c10::Scalar> h = has_hi ? c10::optional<c10::Scalar>(hi) : c10::nullopt;
        *out = wrap(torch::clamp(T(a), l, h));
    })
}
lt_error lt_where(lt_tensor cond, lt_tensor a, lt_tensor b, lt_tensor *out) {
    PROTECT(*out = wrap(torch::where(T(cond), T(a), T(b))))
}
lt_error lt_masked_fill(lt_tensor a, lt_tensor mask, double value, lt_tensor *out) {
    PROTECT(*out = wrap(T(a).masked_fill(T(mask), value)))
}
lt_error lt_to_dtype(lt_tensor a, int dtype, lt_tensor *out) { PROTECT(*out = wrap(T(a).to(scalar_type(dtype)))) }
lt_error lt_detach(lt_tensor a, lt_tensor *out) { PROTECT(*out = wrap(T(a).detach())) }
lt_error lt_clone(lt_tensor a, lt_tensor *out) { PROTECT(*out = wrap(T(a).clone())) }
lt_error lt_contiguous(lt_tensor a, lt_tensor *out) { PROTECT(*out = wrap(T(a).contiguous())) }
lt_error lt_contiguous_channels_last(lt_tensor a, lt_tensor *out) {
    PROTECT({
        if (T(a).dim() != 4) throw std::invalid_argument("channels-last needs a 4-d tensor, got " + c10::str(T(a).sizes()));
        *out = wrap(T(a).contiguous(at::MemoryFormat::ChannelsLast));
    })
}
int lt_is_channels_last(lt_tensor a) { return T(a).is_contiguous(at::MemoryFormat::ChannelsLast) ? 1 : 0; }

lt_error lt_inplace(int op, lt_tensor self, lt_tensor other, double alpha) {
    PROTECT({
        auto &s = T(self);
        switch (op) {
        case LT_INPLACE_COPY: s.copy_(T(other)); break;
        case LT_INPLACE_ADD: s.add_(T(other), alpha); break;
        case LT_INPLACE_MUL: s.mul_(T(other)); break;
        case LT_INPLACE_SUB: s.sub_(T(other), alpha); break;
        default: throw std::invalid_argument("unknown in-place op " + std::to_string(op));
        }
    })
}
lt_error lt_inplace_scalar(int op, lt_tensor self, double value) {
    PROTECT({
        auto &s = T(self);
        // An integral value stays integral so that int64 buffers (num_batches_tracked) accept it.
        c10::Scalar v = (!s.is_floating_point() && value == static_cast<double>(static_cast<int64_t>(value)))
                            ? c10::Scalar(static_cast<int64_t>(value))
                            : c10::Scalar(value);
        switch (op) {
        case LT_INPLACE_FILL: s.fill_(v); break;
        case LT_INPLACE_ADD_SCALAR: s.add_(v); break;
        case LT_INPLACE_MUL_SCALAR: s.mul_(v); break;
        default: throw std::invalid_argument("unknown in-place scalar op " + std::to_string(op));
        }
    })
}
lt_error lt_normal_(lt_tensor self, double mean, double std) { PROTECT(T(self).normal_(mean, std)) }
lt_error lt_uniform_(lt_tensor self, double lo, double hi) { PROTECT(T(self).uniform_(lo, hi)) }

// MARK: shape

lt_error lt_reshape(lt_tensor a, const int64_t *shape, int ndim, lt_tensor *out) {
    PROTECT(*out = wrap(T(a).reshape(ints(shape, ndim))))
}
lt_error lt_permute(lt_tensor a, const int64_t *dims, int ndim, lt_tensor *out) {
    PROTECT(*out = wrap(T(a).permute(ints(dims, ndim))))
}
lt_error lt_transpose(lt_tensor a, int64_t d0, int64_t d1, lt_tensor *out) {
    PROTECT(*out = wrap(T(a).transpose(d0, d1)))
}
lt_error lt_cat(const lt_tensor *ts, int count, int64_t dim, lt_tensor *out) {
    PROTECT(*out = wrap(torch::cat(tensors(ts, count), dim)))
}
lt_error lt_stack(const lt_tensor *ts, int count, int64_t dim, lt_tensor *out) {
    PROTECT(*out = wrap(torch::stack(tensors(ts, count), dim)))
}
lt_error lt_index_select(lt_tensor a, int64_t dim, lt_tensor index, lt_tensor *out) {
    PROTECT(*out = wrap(T(a).index_select(dim, T(index))))
}
lt_error lt_gather(lt_tensor a, int64_t dim, lt_tensor index, lt_tensor *out) {
    PROTECT(*out = wrap(T(a).gather(dim, T(index))))
}
lt_error lt_slice(lt_tensor a, int64_t dim, int64_t start, int64_t end, int64_t step, lt_tensor *out) {
    PROTECT(*out = wrap(T(a).slice(dim, start, end, step)))
}
lt_error lt_select(lt_tensor a, int64_t dim, int64_t index, lt_tensor *out) {
    PROTECT(*out = wrap(T(a).select(dim, index)))
}
lt_error lt_squeeze(lt_tensor a, int64_t dim, lt_tensor *out) { PROTECT(*out = wrap(T(a).squeeze(dim))) }
lt_error lt_unsqueeze(lt_tensor a, int64_t dim, lt_tensor *out) { PROTECT(*out = wrap(T(a).unsqueeze(dim))) }
lt_error lt_expand(lt_tensor a, const int64_t *shape, int ndim, lt_tensor *out) {
    PROTECT(*out = wrap(T(a).expand(ints(shape, ndim))))
}
lt_error lt_repeat(lt_tensor a, const int64_t *repeats, int ndim, lt_tensor *out) {
    PROTECT(*out = wrap(T(a).repeat(ints(repeats, ndim))))
}
lt_error lt_flatten(lt_tensor a, int64_t start, int64_t end, lt_tensor *out) {
    PROTECT(*out = wrap(T(a).flatten(start, end)))
}
lt_error lt_flip(lt_tensor a, const int64_t *dims, int ndim, lt_tensor *out) {
    PROTECT(*out = wrap(T(a).flip(ints(dims, ndim))))
}
lt_error lt_masked_select(lt_tensor a, lt_tensor mask, lt_tensor *out) {
    PROTECT(*out = wrap(T(a).masked_select(T(mask))))
}
lt_error lt_tril(lt_tensor a, int64_t diagonal, lt_tensor *out) { PROTECT(*out = wrap(T(a).tril(diagonal))) }
lt_error lt_triu(lt_tensor a, int64_t diagonal, lt_tensor *out) { PROTECT(*out = wrap(T(a).triu(diagonal))) }
lt_error lt_pad(lt_tensor a, const int64_t *pad, int npad, int mode, double value, lt_tensor *out) {
    PROTECT({
        namespace F = torch::nn::functional;
        auto o = F::PadFuncOptions(std::vector<int64_t>(pad, pad + npad));
        switch (mode) {
        case 0: o.mode(torch::kConstant).value(value); break;
        case 1: o.mode(torch::kReflect); break;
        case 2: o.mode(torch::kReplicate); break;
        default: throw std::invalid_argument("unknown pad mode " + std::to_string(mode));
        }
        *out = wrap(F::pad(T(a), o));
    })
}

// MARK: reductions

lt_error lt_reduce(int op, lt_tensor a, const int64_t *dims, int ndims, int keepdim, lt_tensor *out) {
    PROTECT({
        auto &x = T(a);
        bool all = ndims == 0;
        bool k = keepdim != 0;
        std::vector<int64_t> d(dims, dims + ndims);
        if (all) {
            for (int64_t i = 0; i < x.dim(); i++) d.push_back(i);
        }
        torch::Tensor r;
        switch (op) {
        case LT_SUM: r = all && !k ? x.sum() : x.sum(d, k); break;
        case LT_MEAN: r = all && !k ? x.mean() : x.mean(d, k); break;
        case LT_AMAX: r = x.amax(d, k); break;
        case LT_AMIN: r = x.amin(d, k); break;
        case LT_PROD:
            if (all) { r = x.prod(); if (k) r = r.reshape(std::vector<int64_t>(x.dim(), 1)); }
            else {
                if (ndims != 1) throw std::invalid_argument("prod reduces one dimension or all");
                r = x.prod(d[0], k);
            }
            break;
        case LT_STD: r = x.std(at::OptionalIntArrayRef(d), /*correction=*/1, k); break;
        case LT_VAR: r = x.var(at::OptionalIntArrayRef(d), /*correction=*/1, k); break;
        case LT_LOGSUMEXP: r = x.logsumexp(d, k); break;
        case LT_ALL:
        case LT_ANY: {
            r = x;
            std::vector<int64_t> sorted = d;
            std::sort(sorted.begin(), sorted.end(), [&](int64_t p, int64_t q) {
                return c10::maybe_wrap_dim(p, x.dim()) > c10::maybe_wrap_dim(q, x.dim());
            });
            for (auto dim : sorted) r = op == LT_ALL ? r.all(dim, k) : r.any(dim, k);
            break;
        }
        case LT_NORM: r = at::linalg_vector_norm(x, 2, at::OptionalIntArrayRef(d), k); break;
        default: throw std::invalid_argument("unknown reduction op " + std::to_string(op));
        }
        *out = wrap(r);
    })
}
lt_error lt_argmax(lt_tensor a, int64_t dim, int keepdim, lt_tensor *out) {
    PROTECT(*out = wrap(T(a).argmax(dim, keepdim != 0)))
}
lt_error lt_argmin(lt_tensor a, int64_t dim, int keepdim, lt_tensor *out) {
    PROTECT(*out = wrap(T(a).argmin(dim, keepdim != 0)))
}
lt_error lt_topk(lt_tensor a, int64_t k, int64_t dim, int largest, int sorted, lt_tensor *values,
                 lt_tensor *indices) {
    PROTECT({
        auto r = T(a).topk(k, dim, largest != 0, sorted != 0);
        *values = wrap(std::get<0>(r));
        *indices = wrap(std::get<1>(r));
    })
}
lt_error lt_linalg_eigh(lt_tensor a, lt_tensor *eigenvalues, lt_tensor *eigenvectors) {
    PROTECT({
        auto r = at::linalg_eigh(T(a));
        *eigenvalues = wrap(std::get<0>(r));
        *eigenvectors = wrap(std::get<1>(r));
    })
}
lt_error lt_sort(lt_tensor a, int64_t dim, int descending, lt_tensor *values, lt_tensor *indices) {
    PROTECT({
        auto r = T(a).sort(dim, descending != 0);
        *values = wrap(std::get<0>(r));
        *indices = wrap(std::get<1>(r));
    })
}
lt_error lt_cumsum(lt_tensor a, int64_t dim, lt_tensor *out) { PROTECT(*out = wrap(T(a).cumsum(dim))) }
lt_error lt_multinomial(lt_tensor probs, int64_t samples, int replacement, lt_tensor *out) {
    PROTECT(*out = wrap(T(probs).multinomial(samples, replacement != 0)))
}

// MARK: neural network functions

lt_error lt_softmax(lt_tensor a, int64_t dim, lt_tensor *out) { PROTECT(*out = wrap(T(a).softmax(dim))) }
lt_error lt_log_softmax(lt_tensor a, int64_t dim, lt_tensor *out) {
    PROTECT(*out = wrap(T(a).log_softmax(dim)))
}
lt_error lt_leaky_relu(lt_tensor a, double slope, lt_tensor *out) {
    PROTECT(*out = wrap(torch::leaky_relu(T(a), slope)))
}
lt_error lt_dropout(lt_tensor a, double p, int train, lt_tensor *out) {
    PROTECT({
        if (p < 0 || p > 1) throw std::invalid_argument("dropout probability must be in [0, 1]");
        *out = wrap(torch::dropout(T(a), p, train != 0));
    })
}
lt_error lt_linear(lt_tensor x, lt_tensor weight, lt_tensor bias, lt_tensor *out) {
    PROTECT(*out = wrap(torch::linear(T(x), T(weight), or_undefined(bias))))
}
lt_error lt_conv2d(lt_tensor x, lt_tensor weight, lt_tensor bias, const int64_t *stride,
                   const int64_t *padding, const int64_t *dilation, int64_t groups, lt_tensor *out) {
    PROTECT(*out = wrap(torch::conv2d(T(x), T(weight), or_undefined(bias), ints(stride, 2), ints(padding, 2),
                                      ints(dilation, 2), groups)))
}
lt_error lt_conv_transpose2d(lt_tensor x, lt_tensor weight, lt_tensor bias, const int64_t *stride,
                             const int64_t *padding, const int64_t *output_padding, int64_t groups,
                             const int64_t *dilation, lt_tensor *out) {
    PROTECT(*out = wrap(torch::conv_transpose2d(T(x), T(weight), or_undefined(bias), ints(stride, 2),
                                                ints(padding, 2), ints(output_padding, 2), groups,
                                                ints(dilation, 2))))
}
lt_error lt_batch_norm(lt_tensor x, lt_tensor weight, lt_tensor bias, lt_tensor running_mean,
                       lt_tensor running_var, int training, double momentum, double eps, lt_tensor *out) {
    PROTECT(*out = wrap(torch::batch_norm(T(x), or_undefined(weight), or_undefined(bias),
                                          or_undefined(running_mean), or_undefined(running_var), training != 0,
                                          momentum, eps, /*cudnn_enabled=*/false)))
}
lt_error lt_layer_norm(lt_tensor x, const int64_t *normalized_shape, int ndim, lt_tensor weight,
                       lt_tensor bias, double eps, lt_tensor *out) {
    PROTECT(*out = wrap(torch::layer_norm(T(x), ints(normalized_shape, ndim), opt(weight), opt(bias), eps)))
}
lt_error lt_max_pool2d(lt_tensor x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                       int ceil_mode, lt_tensor *out) {
    PROTECT(*out = wrap(torch::max_pool2d(T(x), ints(kernel, 2), ints(stride, 2), ints(padding, 2), {1, 1},
                                          ceil_mode != 0)))
}
lt_error lt_avg_pool2d(lt_tensor x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                       int ceil_mode, int count_include_pad, lt_tensor *out) {
    PROTECT(*out = wrap(torch::avg_pool2d(T(x), ints(kernel, 2), ints(stride, 2), ints(padding, 2),
                                          ceil_mode != 0, count_include_pad != 0)))
}
lt_error lt_adaptive_avg_pool2d(lt_tensor x, const int64_t *output_size, lt_tensor *out) {
    PROTECT(*out = wrap(torch::adaptive_avg_pool2d(T(x), ints(output_size, 2))))
}
lt_error lt_adaptive_max_pool2d(lt_tensor x, const int64_t *output_size, lt_tensor *out) {
    PROTECT(*out = wrap(std::get<0>(torch::adaptive_max_pool2d(T(x), ints(output_size, 2)))))
}
lt_error lt_embedding(lt_tensor weight, lt_tensor indices, int64_t padding_idx, lt_tensor *out) {
    PROTECT(*out = wrap(torch::embedding(T(weight), T(indices), padding_idx)))
}
lt_error lt_interpolate(lt_tensor x, const int64_t *size, int mode, int align_corners, int antialias,
                        lt_tensor *out) {
    PROTECT({
        auto &t = T(x);
        if (t.dim() != 4) throw std::invalid_argument("interpolate expects an (N, C, H, W) tensor");
        std::vector<int64_t> s(size, size + 2);
        torch::Tensor r;
        switch (mode) {
        case LT_INTERP_NEAREST: r = at::upsample_nearest2d(t, s); break;
        case LT_INTERP_BILINEAR:
            r = antialias ? at::_upsample_bilinear2d_aa(t, s, align_corners != 0)
                          : at::upsample_bilinear2d(t, s, align_corners != 0);
            break;
        case LT_INTERP_BICUBIC:
            r = antialias ? at::_upsample_bicubic2d_aa(t, s, align_corners != 0)
                          : at::upsample_bicubic2d(t, s, align_corners != 0);
            break;
        case LT_INTERP_AREA: r = torch::adaptive_avg_pool2d(t, s); break;
        default: throw std::invalid_argument("unknown interpolation mode " + std::to_string(mode));
        }
        *out = wrap(r);
    })
}
lt_error lt_affine_grid(lt_tensor theta, const int64_t *size, int ndim, int align_corners, lt_tensor *out) {
    PROTECT(*out = wrap(torch::affine_grid_generator(T(theta), ints(size, ndim), align_corners != 0)))
}
lt_error lt_grid_sample(lt_tensor x, lt_tensor grid, int mode, int padding_mode, int align_corners,
                        lt_tensor *out) {
    PROTECT(*out = wrap(torch::grid_sampler(T(x), T(grid), mode, padding_mode, align_corners != 0)))
}

// MARK: losses

lt_error lt_cross_entropy(lt_tensor logits, lt_tensor target, lt_tensor weight, int red, int64_t ignore_index,
                          double label_smoothing, lt_tensor *out) {
    PROTECT(*out = wrap(torch::cross_entropy_loss(T(logits), T(target), opt(weight), reduction(red), ignore_index,
                                                  label_smoothing)))
}
lt_error lt_bce_with_logits(lt_tensor logits, lt_tensor target, lt_tensor weight, lt_tensor pos_weight, int red,
                            lt_tensor *out) {
    PROTECT(*out = wrap(torch::binary_cross_entropy_with_logits(T(logits), T(target), opt(weight), opt(pos_weight),
                                                                reduction(red))))
}
lt_error lt_mse_loss(lt_tensor x, lt_tensor target, int red, lt_tensor *out) {
    PROTECT(*out = wrap(torch::mse_loss(T(x), T(target), reduction(red))))
}
lt_error lt_l1_loss(lt_tensor x, lt_tensor target, int red, lt_tensor *out) {
    PROTECT(*out = wrap(torch::l1_loss(T(x), T(target), reduction(red))))
}

// MARK: autograd

lt_error lt_backward(lt_tensor t, lt_tensor gradient, int retain_graph) {
    PROTECT(T(t).backward(or_undefined(gradient), retain_graph ? c10::optional<bool>(true) : c10::nullopt))
}
lt_error lt_grad(lt_tensor t, lt_tensor *out) {
    PROTECT({
        auto g = T(t).grad();
        *out = g.defined() ? wrap(g) : nullptr;
    })
}
lt_error lt_zero_grad(lt_tensor t) {
    PROTECT({
        auto &g = T(t).mutable_grad();
        if (g.defined()) g = torch::Tensor();
    })
}
lt_error lt_clip_grad_norm(const lt_tensor *params, int count, double max_norm, double *total_norm) {
    PROTECT(*total_norm = torch::nn::utils::clip_grad_norm_(tensors(params, count), max_norm))
}

// MARK: optimizers

lt_error lt_optimizer_new(int kind, const lt_tensor *params, int count, double lr, double beta1, double beta2,
                          double eps, double weight_decay, double momentum, int amsgrad, lt_optimizer *out) {
    PROTECT({
        auto ps = tensors(params, count);
        auto o = new Optimizer();
        switch (kind) {
        case LT_OPT_ADAM:
            o->impl = std::make_unique<torch::optim::Adam>(
                ps, torch::optim::AdamOptions(lr).betas({beta1, beta2}).eps(eps).weight_decay(weight_decay).amsgrad(
                        amsgrad != 0));
            break;
        case LT_OPT_ADAMW:
            o->impl = std::make_unique<torch::optim::AdamW>(
                ps, torch::optim::AdamWOptions(lr).betas({beta1, beta2}).eps(eps).weight_decay(weight_decay).amsgrad(
                        amsgrad != 0));
            break;
        case LT_OPT_SGD:
            o->impl = std::make_unique<torch::optim::SGD>(
                ps, torch::optim::SGDOptions(lr).momentum(momentum).weight_decay(weight_decay));
            break;
        default: delete o; throw std::invalid_argument("unknown optimizer kind " + std::to_string(kind));
        }
        *out = reinterpret_cast<lt_optimizer>(o);
    })
}
void lt_optimizer_free(lt_optimizer opt) { delete reinterpret_cast<Optimizer *>(opt); }
lt_error lt_optimizer_step(lt_optimizer opt) { PROTECT(reinterpret_cast<Optimizer *>(opt)->impl->step()) }
lt_error lt_optimizer_zero_grad(lt_optimizer opt) {
    // Gradients become undefined rather than zero-filled (PyTorch >= 2.0's `set_to_none=True`): no
    // memset per parameter, and the next backward pass stores its gradient buffer without an add.
    PROTECT({
        for (auto &group : reinterpret_cast<Optimizer *>(opt)->impl->param_groups()) {
            for (auto &p : group.params()) {
                if (p.mutable_grad().defined()) p.mutable_grad().reset();
            }
        }
    })
}
lt_error lt_optimizer_set_lr(lt_optimizer opt, double lr) {
    PROTECT({
        for (auto &group : reinterpret_cast<Optimizer *>(opt)->impl->param_groups()) {
            group.options().set_lr(lr);
        }
    })
}
lt_error lt_optimizer_save(lt_optimizer opt, const char *path) {
    PROTECT({
        torch::serialize::OutputArchive archive;
        reinterpret_cast<Optimizer *>(opt)->impl->save(archive);
        archive.save_to(std::string(path));
    })
}
lt_error lt_optimizer_load(lt_optimizer opt, const char *path) {
    PROTECT({
        torch::serialize::InputArchive archive;
        archive.load_from(std::string(path));
        reinterpret_cast<Optimizer *>(opt)->impl->load(archive);
    })
}

// MARK: serialization

lt_error lt_save_tensor_dict(const char *const *names, const lt_tensor *ts, int count, const char *path) {
    PROTECT({
        c10::Dict<std::string, torch::Tensor> dict;
        for (int i = 0; i < count; i++) dict.insert(std::string(names[i]), T(ts[i]).detach().contiguous());
        auto bytes = torch::pickle_save(dict);
        std::ofstream file(path, std::ios::binary | std::ios::trunc);
        if (!file) throw std::runtime_error(std::string("cannot open ") + path + " for writing");
        file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        file.flush();
        if (!file) throw std::runtime_error(std::string("write to ") + path + " failed");
    })
}

// MARK: TorchScript

lt_error lt_jit_load(const char *path, lt_module *out) {
    PROTECT({
        auto m = new torch::jit::Module(torch::jit::load(std::string(path), torch::kCPU));
        *out = reinterpret_cast<lt_module>(m);
    })
}
void lt_jit_free(lt_module module) { delete reinterpret_cast<torch::jit::Module *>(module); }
lt_error lt_jit_eval(lt_module module) { PROTECT(reinterpret_cast<torch::jit::Module *>(module)->eval()) }
lt_error lt_jit_forward(lt_module module, const lt_tensor *inputs, int count, lt_tensor *out) {
    PROTECT({
        std::vector<torch::jit::IValue> args;
        for (int i = 0; i < count; i++) args.emplace_back(T(inputs[i]));
        auto result = reinterpret_cast<torch::jit::Module *>(module)->forward(args);
        if (result.isTensor()) {
            *out = wrap(result.toTensor());
        } else if (result.isTuple() && !result.toTupleRef().elements().empty() &&
                   result.toTupleRef().elements()[0].isTensor()) {
            *out = wrap(result.toTupleRef().elements()[0].toTensor());
        } else {
            throw std::runtime_error("TorchScript forward returned " + result.tagKind() + ", not a tensor");
        }
    })
}

}  // extern "C"

// MARK: fused captioner decoder

#include <cmath>

namespace {

// Fortran BLAS sgemm, found at run time in the BLAS that libtorch itself links (Debian's libblas.so.3
// alternative: OpenBLAS or the reference BLAS), so the shim needs no BLAS development package.
using SgemmFn = void (*)(const char *, const char *, const int *, const int *, const int *, const float *,
                         const float *, const int *, const float *, const int *, const float *, float *,
                         const int *);
SgemmFn sgemm_function() {
    static SgemmFn fn = reinterpret_cast<SgemmFn>(dlsym(RTLD_DEFAULT, "sgemm_"));
    return fn;
}

// A weight matrix w (n, k), row-major as libtorch stores a Linear's weight, kept twice: as it is (for
// sgemm, which packs its own copy on every call) and repacked once into panels of kPanel output columns,
// each panel (k, kPanel) contiguous, so that the few-rows kernel streams every weight exactly once, in
// order, and never reduces across a vector register.
constexpr int kPanel = 32;
struct Packed {
    const float *w = nullptr;  // (n, k), owned by the weights' tensors
    int n = 0, k = 0;
    std::vector<float> panels;  // (⌈n / kPanel⌉, k, kPanel), the last panel's spare columns zero

    Packed() = default;
    Packed(const float *w, int n, int k) : w(w), n(n), k(k) {
        const int count = (n + kPanel - 1) / kPanel;
        panels.assign(static_cast<size_t>(count) * k * kPanel, 0.0f);
        for (int j = 0; j < n; j++)
            for (int i = 0; i < k; i++)
                panels[(static_cast<size_t>(j / kPanel) * k + i) * kPanel + j % kPanel] = w[static_cast<size_t>(j) * k + i];
    }
};

// y (RB, n) += x (RB, k) · wᵀ for columns j0 … j0 + kPanel of one panel: RB × kPanel running sums (in
// registers), each weight read once and multiplied by every row's x[i]. The compiler vectorises the
// l loop for the caller's target.
template <int RB>
inline __attribute__((always_inline)) void panel_block(const float *x, int k, const float *panel, int n, int j0, float *y) {
    float acc[RB][kPanel] = {};
    for (int i = 0; i < k; i++) {
        const float *wi = panel + static_cast<size_t>(i) * kPanel;
        for (int q = 0; q < RB; q++) {
            const float xq = x[static_cast<size_t>(q) * k + i];
            for (int l = 0; l < kPanel; l++) acc[q][l] += wi[l] * xq;
        }
    }
    const int width = std::min(kPanel, n - j0);
    for (int q = 0; q < RB; q++)
        for (int l = 0; l < width; l++) y[static_cast<size_t>(q) * n + j0 + l] += acc[q][l];
}

// y (rows, n) += x (rows, k) · wᵀ: panel by panel, up to RB rows at a time with Block<rb>, rb ≤ RB.
template <int RB, template <int> class Block>
inline __attribute__((always_inline)) void panel_rows(const float *x, int rows, const Packed &p, float *y) {
    for (int j = 0; j < p.n; j += kPanel) {
        const float *panel = p.panels.data() + static_cast<size_t>(j / kPanel) * p.k * kPanel;
        for (int r = 0; r < rows; r += RB) {
            const float *xr = x + static_cast<size_t>(r) * p.k;
            float *yr = y + static_cast<size_t>(r) * p.n;
            switch (std::min(RB, rows - r)) {
                case 1: Block<1>::run(xr, p.k, panel, p.n, j, yr); break;
                case 2: Block<(RB > 1 ? 2 : 1)>::run(xr, p.k, panel, p.n, j, yr); break;
                case 3: Block<(RB > 2 ? 3 : 1)>::run(xr, p.k, panel, p.n, j, yr); break;
                case 4: Block<(RB > 3 ? 4 : 1)>::run(xr, p.k, panel, p.n, j, yr); break;
                case 5: Block<(RB > 4 ? 5 : 1)>::run(xr, p.k, panel, p.n, j, yr); break;
                case 6: Block<(RB > 5 ? 6 : 1)>::run(xr, p.k, panel, p.n, j, yr); break;
                case 7: Block<(RB > 6 ? 7 : 1)>::run(xr, p.k, panel, p.n, j, yr); break;
                default: Block<RB>::run(xr, p.k, panel, p.n, j, yr); break;
            }
        }
    }
}

template <int RB> struct PlainBlock {
    static void run(const float *x, int k, const float *panel, int n, int j0, float *y) { panel_block<RB>(x, k, panel, n, j0, y); }
};

// The same block in intrinsics, so that its running sums stay in registers (the compiler kept the
// auto-vectorised ones on the stack): AVX-512, two 16-float halves of a panel row per input row.
template <int RB> struct AVX512Block {
    __attribute__((target("avx512f"))) static void run(const float *x, int k, const float *panel, int n,
                                                                              int j0, float *y) {
        static_assert(kPanel == 32, "two 16-float vectors per panel row");
        __m512 acc[RB][2];
        for (int q = 0; q < RB; q++) acc[q][0] = acc[q][1] = _mm512_setzero_ps();
        for (int i = 0; i < k; i++) {
            const __m512 w0 = _mm512_loadu_ps(panel + static_cast<size_t>(i) * 32), w1 = _mm512_loadu_ps(panel + static_cast<size_t>(i) * 32 + 16);
            for (int q = 0; q < RB; q++) {
                const __m512 xq = _mm512_set1_ps(x[static_cast<size_t>(q) * k + i]);
                acc[q][0] = _mm512_fmadd_ps(w0, xq, acc[q][0]);
                acc[q][1] = _mm512_fmadd_ps(w1, xq, acc[q][1]);
            }
        }
        const int width = std::min(kPanel, n - j0);
        for (int q = 0; q < RB; q++)
            for (int h = 0; h < 2; h++) {
                const int left = width - 16 * h;
                if (left <= 0) break;
                float *out = y + static_cast<size_t>(q) * n + j0 + 16 * h;
                const __mmask16 mask = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
                _mm512_mask_storeu_ps(out, mask, _mm512_add_ps(_mm512_maskz_loadu_ps(mask, out), acc[q][h]));
            }
    }
};

// AVX2: four 8-float quarters of a panel row; three rows' 12 sums and the 4 weights fill the 16 registers.
template <int RB> struct AVX2Block {
    __attribute__((target("avx2,fma"))) static void run(const float *x, int k, const float *panel, int n,
                                                                               int j0, float *y) {
        static_assert(kPanel == 32, "four 8-float vectors per panel row");
        __m256 acc[RB][4];
        for (int q = 0; q < RB; q++)
            for (int h = 0; h < 4; h++) acc[q][h] = _mm256_setzero_ps();
        for (int i = 0; i < k; i++) {
            const float *wi = panel + static_cast<size_t>(i) * 32;
            const __m256 w0 = _mm256_loadu_ps(wi), w1 = _mm256_loadu_ps(wi + 8), w2 = _mm256_loadu_ps(wi + 16), w3 = _mm256_loadu_ps(wi + 24);
            for (int q = 0; q < RB; q++) {
                const __m256 xq = _mm256_broadcast_ss(x + static_cast<size_t>(q) * k + i);
                acc[q][0] = _mm256_fmadd_ps(w0, xq, acc[q][0]);
                acc[q][1] = _mm256_fmadd_ps(w1, xq, acc[q][1]);
                acc[q][2] = _mm256_fmadd_ps(w2, xq, acc[q][2]);
                acc[q][3] = _mm256_fmadd_ps(w3, xq, acc[q][3]);
            }
        }
        const int width = std::min(kPanel, n - j0);
        alignas(32) float sums[8];
        for (int q = 0; q < RB; q++)
            for (int h = 0; h < 4; h++) {
                const int left = std::min(8, width - 8 * h);
                if (left <= 0) break;
                float *out = y + static_cast<size_t>(q) * n + j0 + 8 * h;
                if (left == 8) { _mm256_storeu_ps(out, _mm256_add_ps(_mm256_loadu_ps(out), acc[q][h])); continue; }
                _mm256_store_ps(sums, acc[q][h]);
                for (int l = 0; l < left; l++) out[l] += sums[l];
            }
    }
};

__attribute__((target("avx512f"))) void panel_rows_avx512(const float *x, int rows, const Packed &p, float *y) {
    panel_rows<8, AVX512Block>(x, rows, p, y);
}
__attribute__((target("avx2,fma"))) void panel_rows_avx2(const float *x, int rows, const Packed &p, float *y) {
    panel_rows<3, AVX2Block>(x, rows, p, y);
}
void panel_rows_generic(const float *x, int rows, const Packed &p, float *y) { panel_rows<4, PlainBlock>(x, rows, p, y); }

// The kernels this CPU runs (2: AVX-512, 1: AVX2 + FMA, 0: plain), capped by lt_kernel_limit.
std::atomic<int> kernelLimit{2};
int kernel_level() {
    static const int cpu = __builtin_cpu_supports("avx512f") ? 2
                           : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? 1 : 0;
    return std::min(cpu, kernelLimit.load(std::memory_order_relaxed));
}

// The beams' rows (≤ kFewRows) go through the panel kernel above, with the widest vectors the CPU has,
// on one thread. For 1–3 rows OpenBLAS's sgemm spent more time packing w (sgemm_incopy) and waking its
// threads than multiplying. A kernel over w's own rows (16 partial sums per dot product, then a
// horizontal reduction) took 60-70 ms of heads + beam 3 down to 35-40; the panels, packed once per
// model, run 3 rows 2.2x faster again in isolation and take heads + beam from 1.41x to 1.00x the
// encoder's time in interleaved runs (README, captioner speed). Splitting the columns over libtorch's
// two threads (at::parallel_for) measured no faster. Several photos' beams in one step (up to kFewRows
// rows) also stay here: each panel (k × 32 floats, ≤ 128 KB) is read once and stays in L2 while the
// blocks of rows pass over it; for 24 rows AVX-512's blocks of 8 run 1.9x faster than AVX2's blocks of
// 4 (which spill), and 3 rows take the same time in both. More rows go to sgemm.
constexpr int kFewRows = 64;
void few_rows(const float *x, int rows, const Packed &p, float *y) {
    switch (kernel_level()) {
        case 2: panel_rows_avx512(x, rows, p, y); break;
        case 1: panel_rows_avx2(x, rows, p, y); break;
        default: panel_rows_generic(x, rows, p, y); break;
    }
}

// y (rows, n) = x (rows, k) · wᵀ + b, with w (n, k) and x, y row-major.
void linear_rows(const float *x, int rows, const Packed &p, const float *b, float *y) {
    const int n = p.n, k = p.k;
    for (int r = 0; r < rows; r++) std::memcpy(y + static_cast<size_t>(r) * n, b, sizeof(float) * n);
    if (rows <= kFewRows) {
        few_rows(x, rows, p, y);
    } else if (SgemmFn sgemm = sgemm_function()) {
        // Column-major view: yᵀ (n, rows) = w (n, k) · xᵀ (k, rows), where w is stored as wᵀ (k, n).
        const float one = 1;
        sgemm("T", "N", &n, &rows, &k, &one, p.w, &k, x, &k, &one, y, &n);
    } else {
        auto out = torch::from_blob(y, {rows, n});
        out.addmm_(torch::from_blob(const_cast<float *>(x), {rows, k}),
                   torch::from_blob(const_cast<float *>(p.w), {n, k}).t());
    }
}

void layer_norm_rows(const float *x, int rows, int d, const float *w, const float *b, double eps, float *y) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + static_cast<size_t>(r) * d;
        float *yr = y + static_cast<size_t>(r) * d;
        double mean = 0, var = 0;
        for (int i = 0; i < d; i++) mean += xr[i];
        mean /= d;
        for (int i = 0; i < d; i++) var += (xr[i] - mean) * (xr[i] - mean);
        const double inv = 1.0 / std::sqrt(var / d + eps);
        for (int i = 0; i < d; i++) yr[i] = static_cast<float>((xr[i] - mean) * inv) * w[i] + b[i];
    }
}

// a · b over n floats in 8 independent partial sums, so the compiler can vectorise it (a single running
// sum is a chain of dependent adds that it may not reorder).
inline float dot(const float *a, const float *b, int n) {
    float acc[8] = {};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) acc[l] += a[i + l] * b[i + l];
    float s = 0;
    for (int l = 0; l < 8; l++) s += acc[l];
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

// One query row (Dh) over `length` keys and values laid out (length, Dh) → out (Dh).
void attend_row(const float *q, const float *keys, const float *values, int length, int dh, float *scores, float *out) {
    const float scale = 1.0f / std::sqrt(static_cast<float>(dh));
    float top = -INFINITY;
    for (int j = 0; j < length; j++) {
        scores[j] = dot(q, keys + static_cast<size_t>(j) * dh, dh) * scale;
        top = std::max(top, scores[j]);
    }
    float total = 0;
    for (int j = 0; j < length; j++) total += (scores[j] = std::exp(scores[j] - top));
    for (int i = 0; i < dh; i++) out[i] = 0;
    for (int j = 0; j < length; j++) {
        const float p = scores[j] / total, *v = values + static_cast<size_t>(j) * dh;
        for (int i = 0; i < dh; i++) out[i] += p * v[i];
    }
}

// erf as a rational function of x on [-4, 4] (beyond it erf is ±1 in float): Eigen's and XLA's
// single-precision approximation, within 5e-7 of std::erf, branch-free so the GELU loop vectorises
// (std::erf is a libm call per element).
inline float erf_rational(float v) {
    const float x = std::min(4.0f, std::max(-4.0f, v)), x2 = x * x;
    float p = -2.72614225801306e-10f;
    p = p * x2 + 2.77068142495902e-08f;
    p = p * x2 - 2.10102402082508e-06f;
    p = p * x2 - 5.69250639462346e-05f;
    p = p * x2 - 7.34990630326855e-04f;
    p = p * x2 - 2.95459980854025e-03f;
    p = p * x2 - 1.60960333262415e-02f;
    float q = -1.45660718464996e-05f;
    q = q * x2 - 2.13374055278905e-04f;
    q = q * x2 - 1.68282697438203e-03f;
    q = q * x2 - 7.37332916720468e-03f;
    q = q * x2 - 1.42647390514189e-02f;
    return x * p / q;
}

// Exact (erf) GELU in place, as torch's default gelu.
void gelu(float *x, int count) {
    for (int i = 0; i < count; i++) x[i] = 0.5f * x[i] * (1.0f + erf_rational(x[i] * static_cast<float>(M_SQRT1_2)));
}

// One block's weights; the matrices the step multiplies by are packed (Packed above).
struct BlockWeights {
    const float *ln1w, *ln1b, *qkvb, *ob, *ln2w, *ln2b, *cqb, *cob, *ln3w, *ln3b, *fcb, *pb;
    Packed qkv, out, crossQuery, crossOut, fc, proj;
    torch::Tensor crossIn, crossInBias;  // the packed cross-attention projection, for each image's K/V
};

// A model's decoder, ready to step: shared by every image's Decoder and never changed after it is built.
struct DecoderWeights {
    std::vector<torch::Tensor> weights;  // keeps the referenced storage alive
    std::vector<BlockWeights> blocks;
    const float *embedding, *positions, *lnfw, *lnfb;
    Packed output;  // the tied output projection: the embedding (V, d)
    std::vector<float> zeros;  // its (absent) bias
    int d, heads, dh, hidden, vocabulary, maxPositions;
    double eps;
};

// One image's search: its cross-attention keys and values and the beams' self-attention cache.
struct Decoder {
    std::shared_ptr<const DecoderWeights> model;
    std::vector<torch::Tensor> crossKeys, crossValues;  // per block (G, H, M, Dh) contiguous
    std::vector<std::vector<float>> keys, values;       // per block (rows, H, P, Dh)
    int maxRows, images, memoryLength;
    std::vector<float> x, h, a, big, scores, scratch;
};

const float *checked(const std::vector<torch::Tensor> &w, size_t i, std::vector<int64_t> shape) {
    const auto &t = w[i];
    if (t.scalar_type() != torch::kFloat32 || !t.is_contiguous() || t.device().type() != torch::kCPU)
        throw std::invalid_argument("decoder weight " + std::to_string(i) + " must be a contiguous float32 CPU tensor");
    if (t.sizes() != at::IntArrayRef(shape))
        throw std::invalid_argument("decoder weight " + std::to_string(i) + " has shape " + c10::str(t.sizes()) +
                                    ", expected " + c10::str(at::IntArrayRef(shape)));
    return t.data_ptr<float>();
}

using WeightsHandle = std::shared_ptr<const DecoderWeights>;

}  // namespace

extern "C" {

lt_error lt_decoder_weights_new(const lt_tensor *weights, int count, int layers, int heads, double eps,
                                lt_decoder_weights *out) {
    PROTECT({
        if (layers < 1 || heads < 1) throw std::invalid_argument("layers and heads must be positive");
        if (count != 18 * layers + 4)
            throw std::invalid_argument("expected " + std::to_string(18 * layers + 4) + " decoder weights, got " + std::to_string(count));
        torch::NoGradGuard noGrad;
        auto m = std::make_shared<DecoderWeights>();
        // Copies, not views: the packed panels must not go stale if the caller goes on training.
        for (int i = 0; i < count; i++) m->weights.push_back(T(weights[i]).detach().clone());
        const auto &w = m->weights;
        const size_t tail = static_cast<size_t>(18 * layers);
        if (w[tail].dim() != 2 || w[tail + 1].dim() != 2) throw std::invalid_argument("embedding and positions must be 2-d");
        const int64_t V = w[tail].size(0), D = w[tail].size(1), P = w[tail + 1].size(0);
        if (D % heads != 0) throw std::invalid_argument("width must divide into the heads");
        const int64_t H = w[14].dim() == 2 ? w[14].size(0) : 0;  // mlp fc (hidden, d)
        const int d = static_cast<int>(D), hidden = static_cast<int>(H);
        m->embedding = checked(w, tail, {V, D});
        m->positions = checked(w, tail + 1, {P, D});
        m->lnfw = checked(w, tail + 2, {D});
        m->lnfb = checked(w, tail + 3, {D});
        for (int l = 0; l < layers; l++) {
            const size_t o = static_cast<size_t>(18 * l);
            BlockWeights b;
            b.ln1w = checked(w, o, {D}); b.ln1b = checked(w, o + 1, {D});
            b.qkv = Packed(checked(w, o + 2, {3 * D, D}), 3 * d, d); b.qkvb = checked(w, o + 3, {3 * D});
            b.out = Packed(checked(w, o + 4, {D, D}), d, d); b.ob = checked(w, o + 5, {D});
            b.ln2w = checked(w, o + 6, {D}); b.ln2b = checked(w, o + 7, {D});
            b.crossQuery = Packed(checked(w, o + 8, {3 * D, D}), d, d);  // the query rows of the packed projection
            b.cqb = checked(w, o + 9, {3 * D});
            b.crossOut = Packed(checked(w, o + 10, {D, D}), d, d); b.cob = checked(w, o + 11, {D});
            b.ln3w = checked(w, o + 12, {D}); b.ln3b = checked(w, o + 13, {D});
            b.fc = Packed(checked(w, o + 14, {H, D}), hidden, d); b.fcb = checked(w, o + 15, {H});
            b.proj = Packed(checked(w, o + 16, {D, H}), d, hidden); b.pb = checked(w, o + 17, {D});
            b.crossIn = w[o + 8];
            b.crossInBias = w[o + 9];
            m->blocks.push_back(std::move(b));
        }
        m->output = Packed(m->embedding, static_cast<int>(V), d);
        m->zeros.assign(static_cast<size_t>(V), 0.0f);
        m->d = d; m->heads = heads; m->dh = static_cast<int>(D / heads); m->hidden = hidden;
        m->vocabulary = static_cast<int>(V); m->maxPositions = static_cast<int>(P); m->eps = eps;
        *out = reinterpret_cast<lt_decoder_weights>(new WeightsHandle(std::move(m)));
    })
}

void lt_decoder_weights_free(lt_decoder_weights weights) { delete reinterpret_cast<WeightsHandle *>(weights); }

int lt_kernel_limit(int level) { return kernelLimit.exchange(std::max(0, std::min(2, level))); }

int64_t lt_decoder_weights_vocabulary(lt_decoder_weights weights) {
    return (*reinterpret_cast<WeightsHandle *>(weights))->vocabulary;
}

lt_error lt_decoder_new(lt_decoder_weights weights, lt_tensor memory, int max_rows, lt_decoder *out) {
    PROTECT({
        if (max_rows < 1) throw std::invalid_argument("rows must be positive");
        torch::NoGradGuard noGrad;
        auto d = std::make_unique<Decoder>();
        d->model = *reinterpret_cast<WeightsHandle *>(weights);
        const DecoderWeights &m = *d->model;
        const int64_t D = m.d, P = m.maxPositions, dh = m.dh;
        auto mem = T(memory);
        if (mem.dim() != 3 || mem.size(0) < 1 || mem.size(2) != D)
            throw std::invalid_argument("memory must be (G, M, " + std::to_string(D) + "), got " + c10::str(mem.sizes()));
        const int64_t G = mem.size(0), M = mem.size(1);
        for (const auto &b : m.blocks) {
            // The images' keys and values, once: memory (G, M, d) → (G, H, M, Dh).
            auto project = [&](int64_t part) {
                auto y = at::linear(mem.to(torch::kFloat32), b.crossIn.narrow(0, part * D, D), b.crossInBias.narrow(0, part * D, D));
                return y.view({G, M, m.heads, dh}).permute({0, 2, 1, 3}).contiguous();
            };
            d->crossKeys.push_back(project(1));
            d->crossValues.push_back(project(2));
            d->keys.emplace_back(static_cast<size_t>(max_rows * D * P), 0.0f);
            d->values.emplace_back(static_cast<size_t>(max_rows * D * P), 0.0f);
        }
        d->maxRows = max_rows;
        d->images = static_cast<int>(G);
        d->memoryLength = static_cast<int>(M);
        const size_t rows = static_cast<size_t>(max_rows);
        d->x.resize(rows * D); d->h.resize(rows * D); d->a.resize(rows * D);
        d->big.resize(rows * std::max<int64_t>({3 * D, m.hidden, m.vocabulary}));
        d->scores.resize(static_cast<size_t>(std::max(P, M)));
        d->scratch.resize(static_cast<size_t>(max_rows * D * P));
        *out = reinterpret_cast<lt_decoder>(d.release());
    })
}

void lt_decoder_free(lt_decoder decoder) { delete reinterpret_cast<Decoder *>(decoder); }

lt_error lt_decoder_step(lt_decoder decoder, const int64_t *tokens, const int64_t *images, int rows, int64_t position,
                         float *log_probs, size_t capacity) {
    PROTECT({
        Decoder &s = *reinterpret_cast<Decoder *>(decoder);
        const DecoderWeights &m = *s.model;
        const int D = m.d, Dh = m.dh, H = m.heads, P = m.maxPositions, V = m.vocabulary;
        if (rows < 1 || rows > s.maxRows) throw std::invalid_argument("rows must be 1…" + std::to_string(s.maxRows));
        if (position < 0 || position >= P) throw std::invalid_argument("position " + std::to_string(position) + " outside 0…" + std::to_string(P - 1));
        if (capacity < static_cast<size_t>(rows) * V) throw std::invalid_argument("log-probability buffer too small");
        for (int r = 0; r < rows; r++) {
            if (tokens[r] < 0 || tokens[r] >= V) throw std::invalid_argument("token " + std::to_string(tokens[r]) + " outside the vocabulary");
            if (images && (images[r] < 0 || images[r] >= s.images))
                throw std::invalid_argument("image " + std::to_string(images[r]) + " outside 0…" + std::to_string(s.images - 1));
        }
        const int t = static_cast<int>(position), length = t + 1;
        float *x = s.x.data(), *h = s.h.data(), *a = s.a.data(), *big = s.big.data();
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < D; i++) x[r * D + i] = m.embedding[tokens[r] * D + i] + m.positions[t * D + i];
        for (size_t l = 0; l < m.blocks.size(); l++) {
            const BlockWeights &b = m.blocks[l];
            std::vector<float> &keys = s.keys[l], &values = s.values[l];
            // Causal self-attention: this token's query over the cached keys plus its own.
            layer_norm_rows(x, rows, D, b.ln1w, b.ln1b, m.eps, h);
            linear_rows(h, rows, b.qkv, b.qkvb, big);  // (rows, 3d): q | k | v
            for (int r = 0; r < rows; r++)
                for (int hd = 0; hd < H; hd++) {
                    const size_t slot = ((static_cast<size_t>(r) * H + hd) * P) * Dh;
                    std::memcpy(&keys[slot + static_cast<size_t>(t) * Dh], big + r * 3 * D + D + hd * Dh, sizeof(float) * Dh);
                    std::memcpy(&values[slot + static_cast<size_t>(t) * Dh], big + r * 3 * D + 2 * D + hd * Dh, sizeof(float) * Dh);
                    attend_row(big + r * 3 * D + hd * Dh, &keys[slot], &values[slot], length, Dh, s.scores.data(), a + r * D + hd * Dh);
                }
            linear_rows(a, rows, b.out, b.ob, h);
            for (int i = 0; i < rows * D; i++) x[i] += h[i];
            // Cross-attention over the image grid.
            layer_norm_rows(x, rows, D, b.ln2w, b.ln2b, m.eps, h);
            linear_rows(h, rows, b.crossQuery, b.cqb, big);
            const float *ck = s.crossKeys[l].data_ptr<float>(), *cv = s.crossValues[l].data_ptr<float>();
            const size_t headStride = static_cast<size_t>(s.memoryLength) * Dh;
            for (int r = 0; r < rows; r++) {
                const size_t image = static_cast<size_t>(images ? images[r] : 0) * H;  // this row's photo
                for (int hd = 0; hd < H; hd++)
                    attend_row(big + r * D + hd * Dh, ck + (image + hd) * headStride, cv + (image + hd) * headStride,
                               s.memoryLength, Dh, s.scores.data(), a + r * D + hd * Dh);
            }
            linear_rows(a, rows, b.crossOut, b.cob, h);
            for (int i = 0; i < rows * D; i++) x[i] += h[i];
            // MLP with exact (erf) GELU.
            layer_norm_rows(x, rows, D, b.ln3w, b.ln3b, m.eps, h);
            linear_rows(h, rows, b.fc, b.fcb, big);
            gelu(big, rows * m.hidden);
            linear_rows(big, rows, b.proj, b.pb, h);
            for (int i = 0; i < rows * D; i++) x[i] += h[i];
        }
        // Final norm, the tied output projection (no bias) and log-softmax.
        layer_norm_rows(x, rows, D, m.lnfw, m.lnfb, m.eps, h);
        linear_rows(h, rows, m.output, m.zeros.data(), log_probs);
        for (int r = 0; r < rows; r++) {
            float *row = log_probs + static_cast<size_t>(r) * V;
            float top = -INFINITY;
            for (int i = 0; i < V; i++) top = std::max(top, row[i]);
            double total = 0;
            for (int i = 0; i < V; i++) total += std::exp(static_cast<double>(row[i] - top));
            const float shift = top + static_cast<float>(std::log(total));
            for (int i = 0; i < V; i++) row[i] -= shift;
        }
    })
}

lt_error lt_decoder_reorder(lt_decoder decoder, const int64_t *parents, int rows, int64_t length) {
    PROTECT({
        Decoder &s = *reinterpret_cast<Decoder *>(decoder);
        const DecoderWeights &m = *s.model;
        if (rows < 1 || rows > s.maxRows) throw std::invalid_argument("rows must be 1…" + std::to_string(s.maxRows));
        if (length < 0 || length > m.maxPositions) throw std::invalid_argument("cached length outside the positions table");
        for (int r = 0; r < rows; r++)
            if (parents[r] < 0 || parents[r] >= s.maxRows) throw std::invalid_argument("parent row " + std::to_string(parents[r]) + " out of range");
        const size_t rowSize = static_cast<size_t>(m.heads) * m.maxPositions * m.dh;
        const size_t used = static_cast<size_t>(length) * m.dh;
        // Only rows that take another row's history move (a row that continues itself stays put, and is
        // never written, so it can still be read); through a scratch copy, since a parent may be kept
        // twice or move to a row that is read later.
        std::vector<int> moved;
        for (int r = 0; r < rows; r++)
            if (parents[r] != r) moved.push_back(r);
        for (size_t l = 0; l < m.blocks.size(); l++)
            for (auto *cache : {&s.keys[l], &s.values[l]}) {
                for (int r : moved)
                    for (int hd = 0; hd < m.heads; hd++) {
                        const size_t head = static_cast<size_t>(hd) * m.maxPositions * m.dh;
                        std::memcpy(&s.scratch[r * rowSize + head], &(*cache)[parents[r] * rowSize + head], sizeof(float) * used);
                    }
                for (int r : moved)
                    for (int hd = 0; hd < m.heads; hd++) {
                        const size_t head = static_cast<size_t>(hd) * m.maxPositions * m.dh;
                        std::memcpy(&(*cache)[r * rowSize + head], &s.scratch[r * rowSize + head], sizeof(float) * used);
                    }
            }
    })
}

}  // extern "C"

// MARK: colour statistics
//
// Plain loops over one small image at a time (the encoder's 224-px view: 50 k pixels, well under a
// millisecond), in float64, with NumPy's conventions so that scripts/reference/colour_statistics.py
// gives the same numbers: histogram bins from linspace edges with the last bin closed, linear quantiles
// with NumPy's lerp, the median of an even count as the mean of the middle two, population deviation.

namespace {

constexpr int kColourStatistics = LT_COLOUR_STATISTICS;

// Equal bins over [lo, hi] as numpy.histogram and histogram2d place a value: edges[i] ≤ v < edges[i + 1],
// the last bin closed; −1 outside the range.
struct Bins {
    int count;
    double lo, hi;
    std::vector<double> edges;
    Bins(int count, double lo, double hi) : count(count), lo(lo), hi(hi), edges(count + 1) {
        const double step = (hi - lo) / count;
        for (int i = 0; i <= count; i++) edges[i] = i * step + lo;
        edges[count] = hi;
    }
    int operator()(double v) const {
        if (!(v >= lo && v <= hi)) return -1;
        int i = static_cast<int>(((v - lo) / (hi - lo)) * count);
        if (i >= count) i = count - 1;
        if (v < edges[i]) i--;
        if (i < count - 1 && v >= edges[i + 1]) i++;
        return i;
    }
};

// The values at the given ranks of `v` in ascending order (what sorting `v` would put there), exactly.
// Values are counted into buckets by a monotone map of the value — ((x − lo) · scale), truncated, is
// non-decreasing in x under rounding — so rank r lies in the bucket where the running count passes r,
// and only the few values of those buckets are sorted. Through nth_element on each channel's ~50 k
// values the quantiles were about 6 % of the service's CPU under upload load (perf, c=8).
void order_statistics(const std::vector<double> &v, const std::vector<size_t> &ranks, std::vector<double> &out) {
    constexpr int kBuckets = 4096;
    const size_t n = v.size();
    double lo = v[0], hi = v[0];
    for (double x : v) lo = std::min(lo, x), hi = std::max(hi, x);
    out.assign(ranks.size(), lo);
    if (!(hi > lo)) return;  // one value (or NaN bounds): every rank holds it
    const double scale = kBuckets / (hi - lo);
    std::vector<uint16_t> bucketOf(n);
    std::vector<size_t> start(kBuckets + 1, 0);
    for (size_t i = 0; i < n; i++) {
        const double b = (v[i] - lo) * scale;
        const int k = b >= kBuckets ? kBuckets - 1 : b > 0 ? static_cast<int>(b) : 0;
        bucketOf[i] = static_cast<uint16_t>(k);
        start[k + 1]++;
    }
    for (int k = 0; k < kBuckets; k++) start[k + 1] += start[k];
    // The buckets the ranks fall in, each gathered once.
    std::vector<int> slot(kBuckets, -1), rankBucket(ranks.size());
    std::vector<std::vector<double>> members;
    for (size_t r = 0; r < ranks.size(); r++) {
        const int k = static_cast<int>(std::upper_bound(start.begin(), start.end(), ranks[r]) - start.begin()) - 1;
        rankBucket[r] = k;
        if (slot[k] < 0) slot[k] = static_cast<int>(members.size()), members.emplace_back(), members.back().reserve(start[k + 1] - start[k]);
    }
    for (size_t i = 0; i < n; i++)
        if (const int s = slot[bucketOf[i]]; s >= 0) members[s].push_back(v[i]);
    for (auto &m : members) std::sort(m.begin(), m.end());
    for (size_t r = 0; r < ranks.size(); r++) out[r] = members[slot[rankBucket[r]]][ranks[r] - start[rankBucket[r]]];
}

// numpy.quantile's default ("linear") at ascending qs, appended to `out`: the values at ranks ⌊q(n−1)⌋
// and the one above, interpolated with NumPy's lerp.
void quantiles(const std::vector<double> &v, std::initializer_list<double> qs, std::vector<double> &out) {
    const size_t n = v.size();
    std::vector<size_t> ranks;
    std::vector<double> fractions;  // position − ⌊position⌋ per quantile
    for (double q : qs) {
        const double position = q * static_cast<double>(n - 1), below = std::floor(position);
        const size_t i = static_cast<size_t>(below);
        ranks.push_back(i), ranks.push_back(std::min(i + 1, n - 1));
        fractions.push_back(position - below);
    }
    std::vector<double> values;
    order_statistics(v, ranks, values);
    for (size_t k = 0; k < fractions.size(); k++) {
        const double a = values[2 * k], b = values[2 * k + 1], t = fractions[k], d = b - a;
        out.push_back(t >= 0.5 ? b - d * (1 - t) : a + d * t);
    }
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// One image: pixels (H·W, 3) row-major in [0, 1] → kColourStatistics values.
void colour_statistics(const double *px, int64_t h, int64_t w, float *out) {
    const int64_t n = h * w;
    std::vector<double> features;
    features.reserve(kColourStatistics);
    // The background: the median of the border (top row, bottom row, left column, right column).
    double bg[3];
    for (int c = 0; c < 3; c++) {
        std::vector<double> border;
        border.reserve(2 * (h + w));
        for (int64_t x = 0; x < w; x++) border.push_back(px[x * 3 + c]);
        for (int64_t x = 0; x < w; x++) border.push_back(px[((h - 1) * w + x) * 3 + c]);
        for (int64_t y = 0; y < h; y++) border.push_back(px[(y * w) * 3 + c]);
        for (int64_t y = 0; y < h; y++) border.push_back(px[(y * w + w - 1) * 3 + c]);
        bg[c] = median(std::move(border));
    }
    const double bgSum = bg[0] + bg[1] + bg[2];
    for (double v : bg) features.push_back(v);
    for (double v : bg) features.push_back(v / (bgSum + 1e-3));
    // The piece: pixels far enough from the background, else the 500 farthest (stable order).
    std::vector<double> distance(n);
    std::vector<int64_t> piece;
    for (int64_t i = 0; i < n; i++) {
        distance[i] = std::abs(px[i * 3] - bg[0]) + std::abs(px[i * 3 + 1] - bg[1]) + std::abs(px[i * 3 + 2] - bg[2]);
        if (distance[i] > 0.15) piece.push_back(i);
    }
    if (piece.size() < 50) {
        std::vector<int64_t> order(n);
        for (int64_t i = 0; i < n; i++) order[i] = i;
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return distance[a] > distance[b]; });
        order.resize(std::min<int64_t>(n, 500));
        std::sort(order.begin(), order.end());
        piece = std::move(order);
    }
    const double m = static_cast<double>(piece.size());
    std::vector<double> rgb[3], chroma[3];
    for (int c = 0; c < 3; c++) rgb[c].reserve(piece.size()), chroma[c].reserve(piece.size());
    std::vector<double> hist2d(100, 0), brightness(10, 0);
    const Bins red(10, 0.2, 0.6), green(10, 0.2, 0.45), unit(10, 0, 1);
    for (int64_t i : piece) {
        const double *p = px + i * 3;
        const double sum = p[0] + p[1] + p[2] + 1e-3;
        for (int c = 0; c < 3; c++) {
            rgb[c].push_back(p[c]);
            chroma[c].push_back(p[c] / sum);
        }
        const int r = red(p[0] / sum), g = green(p[1] / sum);
        if (r >= 0 && g >= 0) hist2d[r * 10 + g] += 1;
        const int b = unit(std::max({p[0], p[1], p[2]}));
        if (b >= 0) brightness[b] += 1;
    }
    for (double v : hist2d) features.push_back(v / m);
    for (double v : brightness) features.push_back(v / m);
    double mean[3], deviation[3], chromaMean[3];
    for (int c = 0; c < 3; c++) {
        double s = 0, cs = 0;
        for (size_t k = 0; k < piece.size(); k++) s += rgb[c][k], cs += chroma[c][k];
        mean[c] = s / m;
        chromaMean[c] = cs / m;
        double squares = 0;
        for (double v : rgb[c]) squares += (v - mean[c]) * (v - mean[c]);
        deviation[c] = std::sqrt(squares / m);
    }
    // Quantiles (q-major, then channel, as NumPy's (quantiles, channels) array is raveled).
    std::vector<double> rgbQuantiles[3], chromaQuantiles[3];
    for (int c = 0; c < 3; c++) {
        quantiles(rgb[c], {0.1, 0.25, 0.5, 0.75, 0.9, 0.97}, rgbQuantiles[c]);
        quantiles(chroma[c], {0.1, 0.5, 0.9}, chromaQuantiles[c]);
    }
    for (int q = 0; q < 6; q++)
        for (int c = 0; c < 3; c++) features.push_back(rgbQuantiles[c][q]);
    for (int q = 0; q < 3; q++)
        for (int c = 0; c < 3; c++) features.push_back(chromaQuantiles[c][q]);
    for (double v : mean) features.push_back(v);
    for (double v : deviation) features.push_back(v);
    for (double v : chromaMean) features.push_back(v);
    for (int c = 0; c < 3; c++) features.push_back(mean[c] / (bg[c] + 1e-3));
    // Hue histograms of saturated pixels and a value histogram of grey ones, over the whole image.
    const double saturations[3] = {0.25, 0.5, 0.75}, values[2] = {0.0, 0.3};
    std::vector<double> hue(6 * 24, 0), grey(10, 0);
    const Bins hueBins(24, 0, 1);
    for (int64_t i = 0; i < n; i++) {
        const double r = px[i * 3], g = px[i * 3 + 1], b = px[i * 3 + 2];
        const double v = std::max({r, g, b}), c = v - std::min({r, g, b});
        const double s = v > 0 ? c / v : 0;
        double hh = 0;
        if (c > 0) {
            if (v == r) hh = std::fmod((g - b) / c, 6.0), hh += hh < 0 ? 6 : 0;
            else if (v == g) hh = (b - r) / c + 2;
            else hh = (r - g) / c + 4;
            hh /= 6;
        }
        if (s < 0.15) {
            const int k = unit(v);
            if (k >= 0) grey[k] += 1;
        }
        const int k = hueBins(hh);
        if (k < 0) continue;
        for (int si = 0; si < 3; si++)
            for (int vi = 0; vi < 2; vi++)
                if (s > saturations[si] && v > values[vi]) hue[(si * 2 + vi) * 24 + k] += 1;
    }
    for (double v : hue) features.push_back(std::log1p(v));
    for (double v : grey) features.push_back(std::log1p(v));
    if (static_cast<int>(features.size()) != kColourStatistics) throw std::logic_error("colour statistics: wrong count");
    for (int i = 0; i < kColourStatistics; i++) out[i] = static_cast<float>(features[i]);
}

}  // namespace

extern "C" lt_error lt_colour_statistics(lt_tensor x, lt_tensor *out) {
    PROTECT({
        const auto &t = T(x);
        if (t.dim() != 4 || t.size(1) != 3) throw std::invalid_argument("colour statistics expect an (N, 3, H, W) tensor");
        if (t.size(2) < 2 || t.size(3) < 2) throw std::invalid_argument("colour statistics need images of at least 2 × 2 pixels");
        // (N, H, W, 3) float64, contiguous: one image's pixels are consecutive RGB triples.
        const auto pixels = t.detach().to(torch::kCPU, torch::kFloat64).permute({0, 2, 3, 1}).contiguous();
        const int64_t count = t.size(0), h = t.size(2), w = t.size(3);
        auto result = torch::empty({count, kColourStatistics}, torch::kFloat32);
        const double *source = pixels.data_ptr<double>();
        float *target = result.data_ptr<float>();
        at::parallel_for(0, count, 1, [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; i++) colour_statistics(source + i * h * w * 3, h, w, target + i * kColourStatistics);
        });
        *out = wrap(result);
    })
}

// MARK: MBConv encoder on oneDNN
//
// The same oneDNN convolution kernels libtorch calls (brgconv_1x1, brdgmm_dw on AVX-512), but each
// layer is one primitive: bias, ReLU6 (eltwise clip [0, 6]) and the residual sum are post-ops, the
// asymmetric "SAME" padding of the stride-2 layers is the primitive's own left/right padding, the
// weights are reordered once into the layout the primitive asks for, and activations stay NHWC. Through
// libtorch the ReLU6 passes and the explicit pads were about a third of the encoder's time (profiled on
// a batch of eight 224-px photos), and the weights were reordered on every call.

namespace {

struct MBConvLayer {
    int kind, stride, groups, flags;
    int64_t cin, cout, kernel;
    torch::Tensor weight, bias;  // (Cout, Cin / groups, k, k) contiguous; (Cout)
    std::vector<std::pair<dnnl::memory::desc, dnnl::memory>> packed;  // the weights per requested layout
};

struct MBConvStep {
    dnnl::convolution_forward primitive;
    dnnl::memory::desc src, dst, bias;
    dnnl::memory weights;
    int64_t h, w;  // output size
};

struct MBConvPlan {
    int64_t n, h, w;
    std::vector<MBConvStep> steps;
    int64_t largest;  // floats in the largest activation
};

struct MBConv {
    dnnl::engine engine{dnnl::engine::kind::cpu, 0};
    std::vector<MBConvLayer> layers;
    std::vector<std::unique_ptr<MBConvPlan>> plans;  // most recently built last
};

// TensorFlow "SAME": output ⌈in / stride⌉, the odd pixel of padding after (bottom/right).
inline std::pair<int64_t, int64_t> same_padding(int64_t in, int64_t kernel, int64_t stride) {
    const int64_t out = (in + stride - 1) / stride;
    const int64_t total = std::max<int64_t>((out - 1) * stride + kernel - in, 0);
    return {total / 2, total - total / 2};
}

dnnl::memory::desc nhwc(int64_t n, int64_t c, int64_t h, int64_t w) {
    return dnnl::memory::desc({n, c, h, w}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::nhwc);
}

MBConvPlan &mbconv_plan(MBConv &m, int64_t n, int64_t h, int64_t w) {
    for (auto it = m.plans.begin(); it != m.plans.end(); ++it)
        if ((*it)->n == n && (*it)->h == h && (*it)->w == w) {
            std::rotate(it, it + 1, m.plans.end());
            return *m.plans.back();
        }
    using dnnl::memory;
    auto plan = std::make_unique<MBConvPlan>();
    plan->n = n, plan->h = h, plan->w = w, plan->largest = 0;
    dnnl::stream stream(m.engine);
    int64_t ih = h, iw = w;
    for (auto &layer : m.layers) {
        const auto [top, bottom] = same_padding(ih, layer.kernel, layer.stride);
        const auto [left, right] = same_padding(iw, layer.kernel, layer.stride);
        const int64_t oh = (ih + top + bottom - layer.kernel) / layer.stride + 1;
        const int64_t ow = (iw + left + right - layer.kernel) / layer.stride + 1;
        const auto src = nhwc(n, layer.cin, ih, iw), dst = nhwc(n, layer.cout, oh, ow);
        const memory::desc bias({layer.cout}, memory::data_type::f32, memory::format_tag::x);
        const memory::dims kernel = layer.groups == 1
            ? memory::dims{layer.cout, layer.cin, layer.kernel, layer.kernel}
            : memory::dims{layer.groups, layer.cout / layer.groups, layer.cin / layer.groups, layer.kernel, layer.kernel};
        const memory::desc any(kernel, memory::data_type::f32, memory::format_tag::any);
        dnnl::post_ops ops;
        if (layer.kind == LT_MBCONV_PROJECT) {
            if (layer.flags & LT_MBCONV_RESIDUAL) ops.append_sum(1.0f);
        } else {
            ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, 0.0f, 6.0f);
        }
        dnnl::primitive_attr attr;
        attr.set_post_ops(ops);
        const dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                                   src, any, bias, dst, {layer.stride, layer.stride}, {top, left},
                                                   {bottom, right});
        const dnnl::convolution_forward::primitive_desc pd(desc, attr, m.engine);
        if (pd.src_desc() != src || pd.dst_desc() != dst)
            throw std::runtime_error("oneDNN chose another activation layout than NHWC for a convolution");
        MBConvStep step{dnnl::convolution_forward(pd), src, dst, bias, memory(), oh, ow};
        for (auto &[d, mem] : layer.packed)
            if (d == pd.weights_desc()) step.weights = mem;
        if (!step.weights) {
            const memory::desc plain(kernel, memory::data_type::f32,
                                     layer.groups == 1 ? memory::format_tag::oihw : memory::format_tag::goihw);
            memory user(plain, m.engine, layer.weight.data_ptr<float>());
            step.weights = memory(pd.weights_desc(), m.engine);
            dnnl::reorder(user, step.weights).execute(stream, user, step.weights);
            stream.wait();
            layer.packed.emplace_back(pd.weights_desc(), step.weights);
        }
        plan->largest = std::max(plan->largest, n * layer.cout * oh * ow);
        plan->steps.push_back(std::move(step));
        ih = oh, iw = ow;
    }
    constexpr size_t kPlans = 8;  // batch sizes a process uses: the service's 1…8, describe's 16 and its rest
    if (m.plans.size() >= kPlans) m.plans.erase(m.plans.begin());
    m.plans.push_back(std::move(plan));
    return *m.plans.back();
}

}  // namespace

extern "C" {

lt_error lt_mbconv_new(const lt_tensor *weights, const lt_tensor *biases, const int *strides, const int *groups,
                       const int *kinds, const int *flags, int count, lt_mbconv *out) {
    PROTECT({
        auto m = std::make_unique<MBConv>();
        int64_t channels = 3;
        for (int i = 0; i < count; i++) {
            const auto &w = T(weights[i]), &b = T(biases[i]);
            if (w.dim() != 4 || w.size(2) != w.size(3)) throw std::invalid_argument("mbconv: weights must be (Cout, Cin / groups, k, k)");
            if (b.dim() != 1 || b.size(0) != w.size(0)) throw std::invalid_argument("mbconv: a bias per output channel");
            if (groups[i] < 1 || strides[i] < 1) throw std::invalid_argument("mbconv: groups and stride must be positive");
            if (w.size(1) * groups[i] != channels)
                throw std::invalid_argument("mbconv: layer " + std::to_string(i) + " expects " + std::to_string(w.size(1) * groups[i]) +
                                            " input channels, the previous layer gives " + std::to_string(channels));
            if (kinds[i] < LT_MBCONV_STEM || kinds[i] > LT_MBCONV_HEAD) throw std::invalid_argument("mbconv: unknown layer kind");
            if ((kinds[i] == LT_MBCONV_STEM) != (i == 0) || (kinds[i] == LT_MBCONV_HEAD) != (i == count - 1))
                throw std::invalid_argument("mbconv: the stem first, the head last");
            MBConvLayer layer{kinds[i], strides[i], groups[i], flags[i], channels, w.size(0), w.size(2),
                              w.detach().to(torch::kFloat32).contiguous().clone(), b.detach().to(torch::kFloat32).contiguous().clone(), {}};
            channels = layer.cout;
            m->layers.push_back(std::move(layer));
        }
        // A residual adds the block's input: the block must keep its shape (stride 1, Cout = its Cin).
        int64_t blockInput = 0;
        bool strided = false;
        for (size_t i = 0; i < m->layers.size(); i++) {
            const auto &layer = m->layers[i];
            const bool starts = layer.kind == LT_MBCONV_EXPAND || (layer.kind == LT_MBCONV_DEPTHWISE && m->layers[i - 1].kind != LT_MBCONV_EXPAND);
            if (starts) blockInput = layer.cin, strided = false;
            strided = strided || layer.stride != 1;
            if ((layer.flags & LT_MBCONV_RESIDUAL) && (layer.kind != LT_MBCONV_PROJECT || strided || layer.cout != blockInput))
                throw std::invalid_argument("mbconv: only a block that keeps its input's shape can add it (layer " + std::to_string(i) + ")");
        }
        *out = reinterpret_cast<lt_mbconv>(m.release());
    })
}

void lt_mbconv_free(lt_mbconv encoder) { delete reinterpret_cast<MBConv *>(encoder); }

lt_error lt_mbconv_encode(lt_mbconv encoder, lt_tensor x, lt_tensor *grid, lt_tensor *pooled) {
    PROTECT({
        auto &m = *reinterpret_cast<MBConv *>(encoder);
        const auto &input = T(x);
        if (input.dim() != 4 || input.size(1) != 3 || input.scalar_type() != torch::kFloat32)
            throw std::invalid_argument("mbconv: input must be float32 (N, 3, H, W)");
        const int64_t n = input.size(0);
        (void)at::get_num_threads();  // sets this thread's OpenMP thread count to libtorch's, which oneDNN uses
        auto &plan = mbconv_plan(m, n, input.size(2), input.size(3));
        const auto source = input.contiguous(at::MemoryFormat::ChannelsLast);
        // Three activation buffers: the block's input and output (X), the expansion (E), the depthwise (D).
        const auto options = torch::TensorOptions().dtype(torch::kFloat32);
        auto bx = torch::empty({plan.largest}, options), be = torch::empty({plan.largest}, options),
             bd = torch::empty({plan.largest}, options);
        const auto &head = m.layers.back();
        const auto &last = plan.steps.back();
        auto result = torch::empty({n, head.cout, last.h, last.w}, options.memory_format(at::MemoryFormat::ChannelsLast));
        std::vector<torch::Tensor> taps;
        dnnl::stream stream(m.engine);
        float *current = source.data_ptr<float>();
        for (size_t i = 0; i < m.layers.size(); i++) {
            const auto &layer = m.layers[i];
            const auto &step = plan.steps[i];
            float *target;
            switch (layer.kind) {
            case LT_MBCONV_STEM: target = bx.data_ptr<float>(); break;
            case LT_MBCONV_EXPAND: target = be.data_ptr<float>(); break;
            case LT_MBCONV_DEPTHWISE: target = bd.data_ptr<float>(); break;
            case LT_MBCONV_PROJECT: target = bx.data_ptr<float>(); break;  // in place over the block's input
            default: target = result.data_ptr<float>(); break;
            }
            dnnl::memory src(step.src, m.engine, current), dst(step.dst, m.engine, target),
                bias(step.bias, m.engine, layer.bias.data_ptr<float>());
            step.primitive.execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, step.weights}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, dst}});
            current = target;
            if (layer.kind == LT_MBCONV_HEAD || (layer.kind == LT_MBCONV_PROJECT && (layer.flags & LT_MBCONV_TAP))) {
                stream.wait();
                taps.push_back(torch::from_blob(target, {n, step.h, step.w, layer.cout}, options).mean({1, 2}));  // (N, C)
            }
        }
        stream.wait();
        *grid = wrap(result);
        *pooled = wrap(torch::cat(taps, 1));
    })
}

}  // extern "C"
