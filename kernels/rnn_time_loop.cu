// The RNN time loop on the GPU: tinyrnn.kernels.cuda_kernel loads this file with CuPy.
//
// One source, compiled three ways: by NVRTC (CuPy, at run time), by nvcc (the compile check
// in the tests) and by g++ with kernels/emulation/cuda_emulation.h (the host emulation
// tests, where every CUDA thread is a std::thread).
//
// Persistent kernels. The hidden units are cut into slices of `rows` units; each block owns
// the slices blockIdx.x, blockIdx.x + gridDim.x, ... (grid-stride: a grid smaller than the
// number of slices still covers them all) and keeps their rows of the weight matrix in shared
// memory for the whole sequence. Every step reads the previous state of all units from global
// memory (L2), computes its own units, writes them, and meets the other blocks at one grid
// barrier. Dot products are split over a power-of-two number of threads and summed by a
// fixed shared-memory tree, so results are bitwise identical from run to run. That shared
// machinery (barrier, row layout, owned matvec) lives in cuda_common.cuh.
//
//   forward : a_t = xw_t + h_{t-1} W_hh^T, h_t = f(a_t); rows of W_hh per block.
//   backward: d_a_t = (g_t + [t = len-1] g_hn + dh_t) * f'(h_t),  dh_{t-1} = d_a_t W_hh
//             (cut when t is a positive multiple of `truncate`); rows of W_hh^T per block,
//             gathered from W_hh itself (no transposed copy).
//
// Step kernels (rnn_step_*) are the fallback for weights that do not fit on chip and for
// GEMM-bound shapes (cuda_plan.py's cost model): the host runs one cuBLAS GEMM per step and
// one of these fused elementwise kernels.

#include "cuda_common.cuh"

template <typename T>
__device__ void tr_forward(const T* __restrict__ xw, const T* __restrict__ w,
                           const T* __restrict__ h0, const long long* __restrict__ lengths,
                           int steps, int B, int H, int relu, int rows, int stride,
                           T* __restrict__ hs, T* state, unsigned int* bar) {
    if (!tr_layout_fits<T>(H, rows, stride, bar + 2)) return;
    TR_SHARED(T, smem);
    T* w_s = smem;
    T* partial = smem + tr_owned_slices(H, rows) * rows * stride;
    tr_load_rows(w, H, rows, stride, false, w_s);
    for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < B * H;
         idx += gridDim.x * blockDim.x)
        state[idx] = h0[idx];
    __syncthreads();
    tr_grid_sync(bar);
    for (int t = 0; t < steps; ++t) {
        const T* cur = state + (t & 1) * B * H;
        T* nxt = state + ((t + 1) & 1) * B * H;
        tr_owned_matvec(w_s, cur, B, H, rows, stride, partial, [&](int b, int j, T dot) {
            const bool active = t < lengths[b];
            const T h = tr_activate(dot + xw[((long long)t * B + b) * H + j], relu);
            hs[((long long)t * B + b) * H + j] = active ? h : T(0);
            nxt[b * H + j] = active ? h : TR_LOAD(&cur[b * H + j]);
        });
        tr_grid_sync(bar);
    }
}

template <typename T>
__device__ T tr_grad_pre(const T* __restrict__ g_hs, const T* __restrict__ hs,
                         const T* __restrict__ g_hn, const long long* __restrict__ lengths,
                         int t, int b, int k, int B, int H, T dh, int relu) {
    const long long len = lengths[b];
    if (t >= len) return T(0);  // padded steps pass nothing back
    const long long at = ((long long)t * B + b) * H + k;
    T g = g_hs[at] + dh;
    if (t == len - 1) g += g_hn[b * H + k];
    return g * tr_derivative(hs[at], relu);
}

template <typename T>
__device__ void tr_backward(const T* __restrict__ g_hs, const T* __restrict__ hs,
                            const T* __restrict__ w, const long long* __restrict__ lengths,
                            const T* __restrict__ g_hn, int steps, int B, int H, int relu,
                            int truncate, int rows, int stride, T* __restrict__ d_xw,
                            T* __restrict__ d_h0, T* dbuf, unsigned int* bar) {
    if (!tr_layout_fits<T>(H, rows, stride, bar + 2)) return;
    TR_SHARED(T, smem);
    T* wt_s = smem;  // rows of W_hh^T, read from W_hh itself
    T* partial = smem + tr_owned_slices(H, rows) * rows * stride;
    tr_load_rows(w, H, rows, stride, true, wt_s);
    // The last step: d_a_{T-1} from the output gradients alone.
    for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < B * H;
         idx += gridDim.x * blockDim.x) {
        const int b = idx / H, k = idx % H;
        const T d = tr_grad_pre(g_hs, hs, g_hn, lengths, steps - 1, b, k, B, H, T(0), relu);
        d_xw[((long long)(steps - 1) * B + b) * H + k] = d;
        dbuf[((steps - 1) & 1) * B * H + idx] = d;  // d_a_t lives in half (t & 1)
    }
    __syncthreads();
    tr_grid_sync(bar);
    for (int t = steps - 1; t >= 1; --t) {
        const T* cur = dbuf + (t & 1) * B * H;  // d_a_t
        T* nxt = dbuf + ((t + 1) & 1) * B * H;  // d_a_{t-1}
        const bool cut = truncate > 0 && t % truncate == 0;
        tr_owned_matvec(wt_s, cur, B, H, rows, stride, partial, [&](int b, int k, T dot) {
            const T d = tr_grad_pre(g_hs, hs, g_hn, lengths, t - 1, b, k, B, H,
                                    cut ? T(0) : dot, relu);
            d_xw[((long long)(t - 1) * B + b) * H + k] = d;
            nxt[b * H + k] = d;
        });
        tr_grid_sync(bar);
    }
    // d_h0 = d_a_0 W_hh (never cut: h0 always belongs to the first chunk); d_a_0 is in half 0.
    tr_owned_matvec(wt_s, dbuf, B, H, rows, stride, partial,
                    [&](int b, int k, T dot) { d_h0[b * H + k] = dot; });
}

// ------------------------------------------------------------------------ fallback steps

template <typename T>
__device__ void tr_step_forward(const T* __restrict__ a, const T* __restrict__ xw_t,
                                const long long* __restrict__ lengths, int t, int B, int H,
                                int relu, T* __restrict__ h, T* __restrict__ hs_t) {
    for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < B * H;
         idx += gridDim.x * blockDim.x) {
        const bool active = t < lengths[idx / H];
        const T v = tr_activate(a[idx] + xw_t[idx], relu);
        if (active) h[idx] = v;
        hs_t[idx] = active ? v : T(0);
    }
}

template <typename T>
__device__ void tr_step_backward(const T* __restrict__ dh, const T* __restrict__ g_hs,
                                 const T* __restrict__ hs, const T* __restrict__ g_hn,
                                 const long long* __restrict__ lengths, int t, int B, int H,
                                 int relu, T* __restrict__ d_a_t) {
    for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < B * H;
         idx += gridDim.x * blockDim.x) {
        d_a_t[idx] = tr_grad_pre(g_hs, hs, g_hn, lengths, t, idx / H, idx % H, B, H, dh[idx],
                                 relu);
    }
}

#define TR_KERNELS(T, SUFFIX)                                                                  \
    extern "C" __global__ void TR_LAUNCH_BOUNDS rnn_forward_persistent_##SUFFIX(               \
        const T* xw, const T* w, const T* h0, const long long* lengths, int steps, int B,      \
        int H, int relu, int rows, int stride, T* hs, T* state, unsigned int* bar) {           \
        tr_forward<T>(xw, w, h0, lengths, steps, B, H, relu, rows, stride, hs, state, bar);    \
    }                                                                                          \
    extern "C" __global__ void TR_LAUNCH_BOUNDS rnn_backward_persistent_##SUFFIX(              \
        const T* g_hs, const T* hs, const T* w, const long long* lengths, const T* g_hn,      \
        int steps, int B, int H, int relu, int truncate, int rows, int stride, T* d_xw,       \
        T* d_h0, T* dbuf, unsigned int* bar) {                                                 \
        tr_backward<T>(g_hs, hs, w, lengths, g_hn, steps, B, H, relu, truncate, rows, stride, \
                       d_xw, d_h0, dbuf, bar);                                                 \
    }                                                                                          \
    extern "C" __global__ void rnn_step_forward_##SUFFIX(const T* a, const T* xw_t,            \
                                                         const long long* lengths, int t,      \
                                                         int B, int H, int relu, T* h,         \
                                                         T* hs_t) {                            \
        tr_step_forward<T>(a, xw_t, lengths, t, B, H, relu, h, hs_t);                         \
    }                                                                                          \
    extern "C" __global__ void rnn_step_backward_##SUFFIX(                                     \
        const T* dh, const T* g_hs, const T* hs, const T* g_hn, const long long* lengths,     \
        int t, int B, int H, int relu, T* d_a_t) {                                             \
        tr_step_backward<T>(dh, g_hs, hs, g_hn, lengths, t, B, H, relu, d_a_t);               \
    }

TR_KERNELS(float, f32)
TR_KERNELS(double, f64)
