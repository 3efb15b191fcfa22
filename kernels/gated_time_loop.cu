// The GRU and LSTM time loops on the GPU: tinyrnn.kernels.cuda_gated loads this file with CuPy.
// Compiled three ways like rnn_time_loop.cu (NVRTC, nvcc, g++ under the host emulation), on
// the same device code (cuda_common.cuh: grid barrier, row layout, owned matvec).
//
// The equations, saved values and the semantics of lengths and truncation are those of
// numpy_gru.py and numpy_lstm.py; a cell here is a struct with the per-unit math (forward of
// unit j at step t from its G recurrent pre-activations; backward of unit k at step t from the
// gradients carried into h_t and c_t), shared by the persistent kernels and the step kernels.
//
// Persistent kernels (one cooperative launch, one grid barrier per step):
//   forward : each block keeps the G rows of W_hh of each unit it owns (rows j, H+j, ...) in
//             shared memory; per step it computes [g_0..g_{G-1}][b, j] = h_{t-1}[b] . W_hh[gH+j]
//             for its units against h_{t-1} in global memory, applies the cell, writes ys,
//             saved and h_t.
//   backward: dh_{t-1}[b, k] = direct[b, k] + sum_{j < G*H} d_hw_t[b, j] W_hh[j, k]: the block
//             owning unit k keeps column k of W_hh (row k of W_hh^T, length G*H) in shared
//             memory. Per step: a barrier (d_hw_t of every unit is written), then each block
//             forms dh_{t-1} of its units and the gate gradients of step t-1 locally. d_hw_t
//             is read from the output array itself. Per-unit carries (the GRU's direct term
//             dh z, the LSTM's dc_{t-1} = dc' f) live in `aux` (B x H): after the last step
//             (a grid-stride pass, then a barrier) only the thread that owns (b, k) reads and
//             writes them, so they need no barrier of their own; the LSTM's c likewise.
//
// Step kernels (gated_step_*) are the fallback: the host runs one cuBLAS GEMM per step
// (h W_hh^T forward, d_hw_t W_hh backward) and one of these elementwise kernels.

#include "cuda_common.cuh"

#ifndef TR_EMULATION
__device__ __forceinline__ float tr_exp(float x) { return expf(x); }
__device__ __forceinline__ double tr_exp(double x) { return exp(x); }
#else
inline float tr_exp(float x) { return std::exp(x); }
inline double tr_exp(double x) { return std::exp(x); }
#endif

template <typename T>
__device__ __forceinline__ T tr_sigmoid(T a) {
    return T(1) / (T(1) + tr_exp(-a));  // as the NumPy kernels: 1 / (1 + exp(-a))
}

// What the forward pass of a cell reads and writes besides the recurrent state h.
template <typename T>
struct TrGatedForward {
    const T* xw;               // (T, B, G*H)
    const T* b_hn;             // (H,): the GRU's b_hn (zeros when the layer has none)
    const long long* lengths;  // (B,)
    int steps, B, H;
    T* ys;     // (S, T, B, H)
    T* saved;  // (T, B, 4H)
    T* c;      // (B, H): the LSTM's c, read and written only by the thread of unit (b, j)
};

// What the backward pass reads and writes.
template <typename T>
struct TrGatedBackward {
    const T* g_ys;    // (S, T, B, H)
    const T* ys;      // (S, T, B, H)
    const T* saved;   // (T, B, 4H)
    const T* state0;  // (S, B, H)
    const long long* lengths;
    int steps, B, H;
    T* d_xw;  // (T, B, G*H)
    T* d_hw;  // (T, B, G*H): d_xw itself for the LSTM
    T* aux;   // (B, H): GRU: direct_t = dh z (masked); LSTM: dc_{t-1} = dc' f (masked)
};

// GRU (numpy_gru.py): r = σ(xw_r + g_r), z = σ(xw_z + g_z), hn = g_n + b_hn,
// n = tanh(xw_n + r hn), h_t = (1 - z) n + z h_{t-1}; saved [r, z, n, hn].
struct TrGru {
    static constexpr int G = 3, S = 1;  // gates, states

    template <typename T>
    __device__ static void forward(const TrGatedForward<T>& a, const T* g, int t, int b, int j,
                                   const T* h_cur, T* h_nxt) {
        const int H = a.H;
        const long long row = (long long)t * a.B + b;
        const T* x = a.xw + row * 3 * H;
        const T r = tr_sigmoid(x[j] + g[0]), z = tr_sigmoid(x[H + j] + g[1]);
        const T hn = g[2] + a.b_hn[j];
        const T n = tr_tanh(x[2 * H + j] + r * hn);
        const T hp = TR_LOAD(&h_cur[b * H + j]);
        const T h = (T(1) - z) * n + z * hp;
        T* s = a.saved + row * 4 * H;
        s[j] = r, s[H + j] = z, s[2 * H + j] = n, s[3 * H + j] = hn;
        const bool active = t < a.lengths[b];
        a.ys[row * H + j] = active ? h : T(0);
        h_nxt[b * H + j] = active ? h : hp;
    }

    // Step t of unit k, with dh_carry reaching h_t from step t + 1 (0 where cut):
    //   dn = dh (1 - z)(1 - n^2), dr = dn hn r (1 - r), dz = dh (h_{t-1} - n) z (1 - z)
    //   d_xw_t = [dr, dz, dn], d_hw_t = [dr, dz, dn r], direct = dh z.
    template <typename T>
    __device__ static void backward(const TrGatedBackward<T>& a, int t, int b, int k,
                                    T dh_carry, T) {
        const int H = a.H, B = a.B;
        const long long row = (long long)t * B + b;
        const T* s = a.saved + row * 4 * H;
        const T r = s[k], z = s[H + k], n = s[2 * H + k], hn = s[3 * H + k];
        const T hp = t > 0 ? a.ys[(row - B) * H + k] : a.state0[b * H + k];
        const T dh = a.g_ys[row * H + k] + dh_carry;
        const T dn = dh * (T(1) - z) * (T(1) - n * n);
        const T dr = dn * hn * r * (T(1) - r);
        const T dz = dh * (hp - n) * z * (T(1) - z);
        const bool active = t < a.lengths[b];  // padded steps pass nothing back
        T* dx = a.d_xw + row * 3 * H;
        T* dw = a.d_hw + row * 3 * H;
        dx[k] = dw[k] = active ? dr : T(0);
        dx[H + k] = dw[H + k] = active ? dz : T(0);
        dx[2 * H + k] = active ? dn : T(0);
        dw[2 * H + k] = active ? dn * r : T(0);
        a.aux[b * H + k] = active ? dh * z : T(0);
    }

    // dh_{t-1} = direct_t + d_hw_t W_hh (dot: the product's element); c has no carry.
    template <typename T>
    __device__ static T carry_h(T dot, T aux) { return aux + dot; }
    template <typename T>
    __device__ static void d_state0(T* d, int B, int H, int b, int k, T dot, T aux) {
        (void)B;
        d[b * H + k] = aux + dot;
    }
};

// LSTM (numpy_lstm.py): a = xw_t + h_{t-1} W_hh^T; i, f, g, o = σ, σ, tanh, σ of its blocks;
// c_t = f c_{t-1} + i g, h_t = o tanh(c_t); saved [i, f, g, o]; ys = [h_t, c_t].
struct TrLstm {
    static constexpr int G = 4, S = 2;

    template <typename T>
    __device__ static void forward(const TrGatedForward<T>& a, const T* gr, int t, int b, int j,
                                   const T* h_cur, T* h_nxt) {
        const int H = a.H;
        const long long row = (long long)t * a.B + b;
        const T* x = a.xw + row * 4 * H;
        const T i = tr_sigmoid(x[j] + gr[0]), f = tr_sigmoid(x[H + j] + gr[1]);
        const T g = tr_tanh(x[2 * H + j] + gr[2]), o = tr_sigmoid(x[3 * H + j] + gr[3]);
        const T cp = a.c[b * H + j];
        const T c = f * cp + i * g;
        const T h = o * tr_tanh(c);
        T* s = a.saved + row * 4 * H;
        s[j] = i, s[H + j] = f, s[2 * H + j] = g, s[3 * H + j] = o;
        const bool active = t < a.lengths[b];
        const long long plane = (long long)a.steps * a.B * H;
        a.ys[row * H + j] = active ? h : T(0);
        a.ys[plane + row * H + j] = active ? c : T(0);
        h_nxt[b * H + j] = active ? h : TR_LOAD(&h_cur[b * H + j]);
        a.c[b * H + j] = active ? c : cp;
    }

    // Step t of unit k, with dh_carry, dc_carry reaching h_t, c_t from step t + 1:
    //   dc' = dc + dh o (1 - tanh(c_t)^2)
    //   d_a = [dc' g i (1 - i), dc' c_{t-1} f (1 - f), dc' i (1 - g^2), dh tanh(c_t) o (1 - o)]
    //   dc_{t-1} = dc' f (into aux).
    template <typename T>
    __device__ static void backward(const TrGatedBackward<T>& a, int t, int b, int k,
                                    T dh_carry, T dc_carry) {
        const int H = a.H, B = a.B;
        const long long row = (long long)t * B + b, plane = (long long)a.steps * B * H;
        const T* s = a.saved + row * 4 * H;
        const T i = s[k], f = s[H + k], g = s[2 * H + k], o = s[3 * H + k];
        const T cp = t > 0 ? a.ys[plane + (row - B) * H + k] : a.state0[B * H + b * H + k];
        const T tc = tr_tanh(a.ys[plane + row * H + k]);
        const T dh = a.g_ys[row * H + k] + dh_carry;
        const T dc = dc_carry + a.g_ys[plane + row * H + k] + dh * o * (T(1) - tc * tc);
        const bool active = t < a.lengths[b];
        T* d = a.d_xw + row * 4 * H;
        d[k] = active ? dc * g * i * (T(1) - i) : T(0);
        d[H + k] = active ? dc * cp * f * (T(1) - f) : T(0);
        d[2 * H + k] = active ? dc * i * (T(1) - g * g) : T(0);
        d[3 * H + k] = active ? dh * tc * o * (T(1) - o) : T(0);
        a.aux[b * H + k] = active ? dc * f : T(0);
    }

    // dh_{t-1} = d_a W_hh; dc_{t-1} is carried in aux.
    template <typename T>
    __device__ static T carry_h(T dot, T) { return dot; }
    template <typename T>
    __device__ static void d_state0(T* d, int B, int H, int b, int k, T dot, T aux) {
        d[b * H + k] = dot;
        d[B * H + b * H + k] = aux;
    }
};

// ------------------------------------------------------------------------ persistent

template <typename Cell, typename T>
__device__ void tr_gated_forward(const T* __restrict__ w, const T* __restrict__ state0,
                                 int rows, int stride, TrGatedForward<T> a, T* state,
                                 unsigned int* bar) {
    constexpr int G = Cell::G;
    const int B = a.B, H = a.H;
    if (!tr_rows_fit<T>(H, rows, G, stride, bar + 2)) return;
    TR_SHARED(T, smem);
    T* w_s = smem;
    T* partial = smem + G * tr_owned_slices(H, rows) * rows * stride;
    tr_load_gate_rows(w, H, H, G, rows, stride, false, w_s);
    for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < B * H;
         idx += gridDim.x * blockDim.x) {
        state[idx] = state0[idx];
        if (Cell::S == 2) a.c[idx] = state0[B * H + idx];  // the LSTM's c_0
    }
    __syncthreads();
    tr_grid_sync(bar);
    for (int t = 0; t < a.steps; ++t) {
        const T* cur = state + (t & 1) * B * H;
        T* nxt = state + ((t + 1) & 1) * B * H;
        tr_owned_matvec_rows<G>(w_s, cur, B, H, H, rows, stride, partial,
                                [&](int b, int j, const T* g) {
                                    Cell::forward(a, g, t, b, j, cur, nxt);
                                });
        tr_grid_sync(bar);
    }
}

template <typename Cell, typename T>
__device__ void tr_gated_backward(const T* __restrict__ w, int truncate, int rows, int stride,
                                  TrGatedBackward<T> a, T* __restrict__ d_state0,
                                  unsigned int* bar) {
    const int B = a.B, H = a.H, GH = Cell::G * H, steps = a.steps;
    if (!tr_rows_fit<T>(H, rows, 1, stride, bar + 2)) return;
    TR_SHARED(T, smem);
    T* wt_s = smem;  // row k of W_hh^T (column k of W_hh) per owned unit k
    T* partial = smem + tr_owned_slices(H, rows) * rows * stride;
    tr_load_gate_rows(w, H, GH, 1, rows, stride, true, wt_s);
    // The last step: from the output gradients alone.
    for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < B * H;
         idx += gridDim.x * blockDim.x)
        Cell::backward(a, steps - 1, idx / H, idx % H, T(0), T(0));
    __syncthreads();
    tr_grid_sync(bar);
    for (int t = steps - 1; t >= 1; --t) {
        const bool cut = truncate > 0 && t % truncate == 0;
        tr_owned_matvec_rows<1>(wt_s, a.d_hw + (long long)t * B * GH, B, H, GH, rows, stride,
                                partial, [&](int b, int k, const T* dot) {
                                    const T aux = a.aux[b * H + k];
                                    Cell::backward(a, t - 1, b, k,
                                                   cut ? T(0) : Cell::carry_h(dot[0], aux),
                                                   cut ? T(0) : aux);
                                });
        tr_grid_sync(bar);
    }
    // d_state0 from step 0 (never cut: the initial state belongs to the first chunk).
    tr_owned_matvec_rows<1>(wt_s, a.d_hw, B, H, GH, rows, stride, partial,
                            [&](int b, int k, const T* dot) {
                                Cell::d_state0(d_state0, B, H, b, k, dot[0], a.aux[b * H + k]);
                            });
}

// ------------------------------------------------------------------------ fallback steps

// Step t from gates = h_{t-1} W_hh^T (B x G*H, cuBLAS); h (B x H) and the LSTM's a.c in place.
template <typename Cell, typename T>
__device__ void tr_gated_step_forward(const T* __restrict__ gates, int t, TrGatedForward<T> a,
                                      T* h) {
    constexpr int G = Cell::G;
    for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < a.B * a.H;
         idx += gridDim.x * blockDim.x) {
        const int b = idx / a.H, j = idx % a.H;
        T g[G];
        for (int k = 0; k < G; ++k) g[k] = gates[(long long)b * G * a.H + k * a.H + j];
        Cell::forward(a, g, t, b, j, h, h);
    }
}

// Step t from p = d_hw_{t+1} W_hh (B x H, cuBLAS) and aux of step t + 1; `cut`: nothing
// reaches step t from t + 1 (t + 1 a multiple of truncate, or t the last step).
template <typename Cell, typename T>
__device__ void tr_gated_step_backward(const T* __restrict__ p, int cut, int t,
                                       TrGatedBackward<T> a) {
    for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < a.B * a.H;
         idx += gridDim.x * blockDim.x) {
        const T aux = a.aux[idx];
        Cell::backward(a, t, idx / a.H, idx % a.H, cut ? T(0) : Cell::carry_h(p[idx], aux),
                       cut ? T(0) : aux);
    }
}

// b_hn is the GRU's (the LSTM ignores it), c the LSTM's (B, H) scratch (the GRU ignores it).
#define TR_GATED_KERNELS(CELL, NAME, T, SUFFIX)                                                \
    extern "C" __global__ void TR_LAUNCH_BOUNDS NAME##_forward_persistent_##SUFFIX(            \
        const T* xw, const T* w, const T* state0, const long long* lengths, const T* b_hn,     \
        int steps, int B, int H, int rows, int stride, T* ys, T* saved, T* state, T* c,        \
        unsigned int* bar) {                                                                   \
        tr_gated_forward<CELL, T>(w, state0, rows, stride,                                     \
                                  TrGatedForward<T>{xw, b_hn, lengths, steps, B, H, ys, saved, \
                                                    c},                                        \
                                  state, bar);                                                 \
    }                                                                                          \
    extern "C" __global__ void TR_LAUNCH_BOUNDS NAME##_backward_persistent_##SUFFIX(           \
        const T* g_ys, const T* ys, const T* saved, const T* state0, const T* w,               \
        const long long* lengths, int steps, int B, int H, int truncate, int rows, int stride, \
        T* d_xw, T* d_hw, T* d_state0, T* aux, unsigned int* bar) {                            \
        tr_gated_backward<CELL, T>(w, truncate, rows, stride,                                  \
                                   TrGatedBackward<T>{g_ys, ys, saved, state0, lengths, steps, \
                                                      B, H, d_xw, d_hw, aux},                  \
                                   d_state0, bar);                                             \
    }                                                                                          \
    extern "C" __global__ void NAME##_step_forward_##SUFFIX(                                   \
        const T* gates, const T* xw, const long long* lengths, const T* b_hn, int t,           \
        int steps, int B, int H, T* h, T* c, T* ys, T* saved) {                                \
        tr_gated_step_forward<CELL, T>(                                                        \
            gates, t, TrGatedForward<T>{xw, b_hn, lengths, steps, B, H, ys, saved, c}, h);     \
    }                                                                                          \
    extern "C" __global__ void NAME##_step_backward_##SUFFIX(                                  \
        const T* p, int cut, const T* g_ys, const T* ys, const T* saved, const T* state0,      \
        const long long* lengths, int t, int steps, int B, int H, T* d_xw, T* d_hw, T* aux) {  \
        tr_gated_step_backward<CELL, T>(p, cut, t,                                             \
                                        TrGatedBackward<T>{g_ys, ys, saved, state0, lengths,   \
                                                           steps, B, H, d_xw, d_hw, aux});     \
    }

TR_GATED_KERNELS(TrGru, gru, float, f32)
TR_GATED_KERNELS(TrGru, gru, double, f64)
TR_GATED_KERNELS(TrLstm, lstm, float, f32)
TR_GATED_KERNELS(TrLstm, lstm, double, f64)
