// Host emulation of the CUDA subset used by kernels/rnn_time_loop.cu and cuda_common.cuh, for
// testing without a GPU: every CUDA thread is a std::thread, __syncthreads() a std::barrier
// per block, and each block gets its own shared memory. The grid barrier is the real one of
// cuda_common.cuh: its atomics, volatile loads and fences map to std::atomic_ref and
// std::atomic_thread_fence (all threads of the grid run at once, as a cooperative launch
// guarantees on the device). __ldcg is a plain load: the barrier orders the memory.
// Compiled with g++ -std=c++20 by tests/test_cuda_kernel.py.
#pragma once
#define TR_EMULATION 1

#include <atomic>
#include <barrier>
#include <cmath>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

struct tr_dim3 {
    unsigned int x = 1, y = 1, z = 1;
};

inline thread_local tr_dim3 threadIdx, blockIdx;
inline tr_dim3 blockDim, gridDim;
inline thread_local std::barrier<>* tr_block_barrier = nullptr;
inline thread_local unsigned char* tr_block_shared = nullptr;
inline std::size_t tr_shared_size = 0;
constexpr std::size_t kGuard = 256;
constexpr unsigned char kGuardByte = 0xA5;

#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __syncthreads() tr_block_barrier->arrive_and_wait()
#define TR_LOAD(p) (*(p))
#define TR_SHARED(T, name) T* name = reinterpret_cast<T*>(tr_block_shared)
#define TR_LAUNCH_BOUNDS

inline float tr_tanh(float x) { return std::tanh(x); }
inline double tr_tanh(double x) { return std::tanh(x); }

inline unsigned int tr_atomic_add(unsigned int* p, unsigned int v) {
    return std::atomic_ref<unsigned int>(*p).fetch_add(v);
}
inline void tr_atomic_store(unsigned int* p, unsigned int v) {
    std::atomic_ref<unsigned int>(*p).store(v);
}
inline unsigned int tr_load_volatile(const unsigned int* p) {
    return std::atomic_ref<unsigned int>(*const_cast<unsigned int*>(p)).load();
}
inline void tr_fence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void tr_spin_pause() { std::this_thread::yield(); }  // few cores, many threads
inline unsigned int tr_dynamic_shared_bytes() { return static_cast<unsigned int>(tr_shared_size); }

// Run body() as a grid of `grid` blocks of `block` threads with `shared` bytes per block.
// Returns 0, or 1 when a block wrote past its `shared` bytes.
template <typename Body>
int tr_launch(unsigned int grid, unsigned int block, std::size_t shared, Body body) {
    gridDim.x = grid;
    blockDim.x = block;
    tr_shared_size = shared;
    std::vector<std::unique_ptr<std::barrier<>>> block_barriers;
    std::vector<std::vector<unsigned char>> shared_memory;
    for (unsigned int b = 0; b < grid; ++b) {
        block_barriers.emplace_back(new std::barrier<>(block));
        // A guard zone past the end: writing into it is a shared-memory overflow on the device.
        shared_memory.emplace_back(shared + kGuard, kGuardByte);

    }
    std::vector<std::thread> threads;
    for (unsigned int b = 0; b < grid; ++b)
        for (unsigned int t = 0; t < block; ++t)
            threads.emplace_back([&, b, t] {
                blockIdx.x = b;
                threadIdx.x = t;
                tr_block_barrier = block_barriers[b].get();
                tr_block_shared = shared_memory[b].data();
                body();
            });
    for (auto& th : threads) th.join();
    for (auto& mem : shared_memory)
        for (std::size_t i = shared; i < shared + kGuard; ++i)
            if (mem[i] != kGuardByte) return 1;
    return 0;
}
