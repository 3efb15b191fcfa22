// Device code shared by the time-loop kernels of every cell (rnn_time_loop.cu,
// gated_time_loop.cu): load macros, activations, the grid barrier, weight rows into shared
// memory and the owned matrix-vector product of the persistent kernels.
//
// Compiled three ways through the .cu files that include it: NVRTC (cuda_kernel.py inlines
// this header into the source, so CuPy's compile cache sees its changes), nvcc (the compile
// test), and g++ under kernels/emulation/cuda_emulation.h, which defines TR_EMULATION and the
// tr_* primitives below with std::atomic_ref, so that the real barrier code runs there too.
#pragma once

#ifndef TR_EMULATION
#define TR_LOAD(p) __ldcg(p)  // past L1: other blocks wrote it during this step
// 16-byte aligned: the rows may be read as float4/double2 by later kernels.
#define TR_SHARED(T, name) \
    extern __shared__ __align__(16) unsigned char tr_shared_raw[]; \
    T* name = reinterpret_cast<T*>(tr_shared_raw)
// Persistent kernels may be launched with up to 1024 threads per block: the compiler must
// keep registers within 64 per thread or that launch fails.
#define TR_LAUNCH_BOUNDS __launch_bounds__(1024)

__device__ __forceinline__ float tr_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double tr_tanh(double x) { return tanh(x); }

__device__ __forceinline__ unsigned int tr_atomic_add(unsigned int* p, unsigned int v) {
    return atomicAdd(p, v);
}
__device__ __forceinline__ void tr_atomic_store(unsigned int* p, unsigned int v) {
    atomicExch(p, v);
}
__device__ __forceinline__ unsigned int tr_load_volatile(const unsigned int* p) {
    return *reinterpret_cast<const volatile unsigned int*>(p);
}
__device__ __forceinline__ void tr_fence() { __threadfence(); }
__device__ __forceinline__ void tr_spin_pause() {}
__device__ __forceinline__ unsigned int tr_dynamic_shared_bytes() {
    unsigned int bytes;
    asm volatile("mov.u32 %0, %%dynamic_smem_size;" : "=r"(bytes));
    return bytes;
}
#endif

// ------------------------------------------------------------------------ activations

template <typename T>
__device__ __forceinline__ T tr_activate(T a, int relu) {
    return relu ? (a > T(0) ? a : T(0)) : tr_tanh(a);
}

template <typename T>
__device__ __forceinline__ T tr_derivative(T h, int relu) {  // f' through the output h
    return relu ? (h > T(0) ? T(1) : T(0)) : T(1) - h * h;
}

// ------------------------------------------------------------------------ grid barrier

// Grid-wide barrier for co-resident blocks (a cooperative launch guarantees it).
// bar[0] counts arrivals, bar[1] is the generation the waiting blocks watch. A block reads the
// generation before it arrives: it cannot move on before the last block has arrived.
__device__ __forceinline__ void tr_grid_sync(unsigned int* bar) {
    __syncthreads();
    if (gridDim.x == 1) return;  // one block: __syncthreads is the whole barrier
    if (threadIdx.x == 0) {
        const unsigned int seen = tr_load_volatile(bar + 1);
        tr_fence();  // this block's writes are visible before it arrives
        if (tr_atomic_add(bar, 1u) == gridDim.x - 1) {
            tr_atomic_store(bar, 0u);  // reset before anyone can arrive at the next barrier
            tr_fence();
            tr_atomic_add(bar + 1, 1u);
        } else {
            while (tr_load_volatile(bar + 1) == seen) tr_spin_pause();
        }
        tr_fence();
    }
    __syncthreads();
}

// ------------------------------------------------------------------------ persistent layout
//
// The hidden units are cut into slices of `rows` units; each block owns the slices
// blockIdx.x, blockIdx.x + gridDim.x, ... (grid-stride) and keeps their rows of a matrix in
// shared memory, `stride` elements apart. The host pads the stride past H so that the lanes
// of a warp that read different rows at the same k fall in different banks (cuda_plan.py).
// Then one partial sum per thread.

__device__ __forceinline__ int tr_owned_slices(int H, int rows) {
    const int n_slices = (H + rows - 1) / rows;
    return (n_slices + gridDim.x - 1) / gridDim.x;
}

// Threads per dot product in the owned matvec: a power of two, at most H, as many as the block
// has to spare (cuda_plan.parts mirrors it to pad the stride).
__device__ __forceinline__ int tr_parts(int pairs, int H) {
    int parts = 1;
    while (parts * 2 * pairs <= (int)blockDim.x && parts * 2 <= H) parts *= 2;
    return parts;
}

// ------------------------------------------------------------------------ gated layout
//
// The same layout for cells with G rows per unit (gated_time_loop.cu): each owned unit has
// G rows of length K in shared memory, gate-major (row g of local unit u at
// (g * units + u) * stride), so the lanes of a warp that read gate g of adjacent units fall in
// different banks. The Elman kernels use the case G = 1, K = H (the functions at the end).

template <typename T>
__device__ __forceinline__ bool tr_rows_fit(int H, int rows, int G, int stride,
                                            unsigned int* flag) {
    const unsigned long long need =
        ((unsigned long long)G * tr_owned_slices(H, rows) * rows * stride +
         (unsigned long long)G * blockDim.x) * sizeof(T);
    if (need <= tr_dynamic_shared_bytes()) return true;
    if (blockIdx.x == 0 && threadIdx.x == 0) *flag = 1u;
    return false;
}

// Row g of owned unit `unit`: m[g * H + unit, :] of m (G*H x K); or, when `transposed`
// (G = 1), column `unit` of m (K x H), i.e. row `unit` of m^T.
template <typename T>
__device__ void tr_load_gate_rows(const T* __restrict__ m, int H, int K, int G, int rows,
                                  int stride, bool transposed, T* __restrict__ m_s) {
    const int n_slices = (H + rows - 1) / rows, owned = tr_owned_slices(H, rows);
    const int units = owned * rows;
    for (int s = 0; s < owned; ++s) {
        const int slice = blockIdx.x + s * gridDim.x;
        for (int idx = threadIdx.x; idx < G * rows * K; idx += blockDim.x) {
            int g = 0, r, k;
            if (transposed) {
                r = idx % rows, k = idx / rows;
            } else {
                g = idx / (rows * K);
                r = idx % (rows * K) / K, k = idx % K;
            }
            const int unit = slice * rows + r;
            const bool real = slice < n_slices && unit < H;
            m_s[((long long)g * units + s * rows + r) * stride + k] =
                !real ? T(0)
                : transposed ? m[(long long)k * H + unit]
                             : m[((long long)g * H + unit) * K + k];
        }
    }
}

// dots[g] = sum_k m_s[row g of u, k] * v[b, k] (v is B x K) for every owned unit u and batch
// row b, then finish(b, unit, dots). When the dot products outnumber the threads, the block
// takes several rounds; partial sums are added by a fixed tree (bitwise repeatable results);
// every thread reaches every __syncthreads. `partial` holds G * blockDim.x values.
template <int G, typename T, typename Finish>
__device__ void tr_owned_matvec_rows(const T* __restrict__ m_s, const T* v, int B, int H, int K,
                                     int rows, int stride, T* partial, Finish finish) {
    const int units = tr_owned_slices(H, rows) * rows;
    const int pairs = B * units;
    const int parts = tr_parts(pairs, K);
    const int rounds = (pairs * parts + blockDim.x - 1) / blockDim.x;
    const int n = blockDim.x;
    for (int round = 0; round < rounds; ++round) {
        const int tid = round * blockDim.x + threadIdx.x;
        const int pair = tid / parts, part = tid % parts;
        const bool live = pair < pairs;
        const int b = live ? pair / units : 0, u = live ? pair % units : 0;
        T sum[G];
        for (int g = 0; g < G; ++g) sum[g] = T(0);
        if (live) {
            for (int k = part; k < K; k += parts) {
                const T x = TR_LOAD(&v[(long long)b * K + k]);
                for (int g = 0; g < G; ++g) sum[g] += m_s[(g * units + u) * stride + k] * x;
            }
        }
        for (int g = 0; g < G; ++g) partial[g * n + threadIdx.x] = sum[g];
        __syncthreads();
        for (int half = parts / 2; half > 0; half /= 2) {
            if (live && part < half)
                for (int g = 0; g < G; ++g)
                    partial[g * n + threadIdx.x] += partial[g * n + threadIdx.x + half];
            __syncthreads();
        }
        if (live && part == 0) {
            const int slice = blockIdx.x + (u / rows) * gridDim.x;
            const int unit = slice * rows + u % rows;
            T dots[G];
            for (int g = 0; g < G; ++g) dots[g] = partial[g * n + threadIdx.x];
            if (unit < H) finish(b, unit, dots);
        }
        __syncthreads();
    }
}

// ------------------------------------------------------------------------ one row per unit
//
// The Elman kernels' case of the layout below: G = 1 row of length K = H per unit.

// Whether the shared memory of this launch holds the layout. The host plans the launch so
// that it does; a launch that does not (a grid shrunk behind the planner's back) must not
// write past the buffer. The answer is the same in every block, so all return together.
template <typename T>
__device__ __forceinline__ bool tr_layout_fits(int H, int rows, int stride, unsigned int* flag) {
    return tr_rows_fit<T>(H, rows, 1, stride, flag);
}

// Owned rows of m (H x H, row-major), or of m^T when `transposed` (then the reads run along
// the owned units, which are adjacent in memory).
template <typename T>
__device__ void tr_load_rows(const T* __restrict__ m, int H, int rows, int stride, bool transposed,
                             T* __restrict__ m_s) {
    tr_load_gate_rows(m, H, H, 1, rows, stride, transposed, m_s);
}

// out[b, u] = sum_k m_s[u_local, k] * v[b, k] for every owned unit u and batch row b, then
// finish(b, unit, value) for each (see tr_owned_matvec_rows).
template <typename T, typename Finish>
__device__ void tr_owned_matvec(const T* __restrict__ m_s, const T* v, int B, int H, int rows,
                                int stride, T* partial, Finish finish) {
    tr_owned_matvec_rows<1>(m_s, v, B, H, H, rows, stride, partial,
                            [&](int b, int unit, const T* dots) { finish(b, unit, dots[0]); });
}
