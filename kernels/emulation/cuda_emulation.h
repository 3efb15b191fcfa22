// Host emulation of the CUDA subset used by kernels/rnn_time_loop.cu, for testing without a
// GPU: every CUDA thread is a std::thread, __syncthreads() a std::barrier per block, the grid
// barrier one std::barrier over all threads, and each block gets its own shared memory.
// Compiled with g++ -std=c++20 by tests/test_cuda_kernel.py.
#pragma once
#define TR_EMULATION 1

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
inline std::barrier<>* tr_grid_barrier = nullptr;

#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __syncthreads() tr_block_barrier->arrive_and_wait()
#define TR_LOAD(p) (*(p))
#define TR_GRID_SYNC(bar) tr_grid_barrier->arrive_and_wait()
#define TR_SHARED(T, name) T* name = reinterpret_cast<T*>(tr_block_shared)

inline float tr_tanh(float x) { return std::tanh(x); }
inline double tr_tanh(double x) { return std::tanh(x); }

// Run body() as a grid of `grid` blocks of `block` threads with `shared` bytes per block.
template <typename Body>
void tr_launch(unsigned int grid, unsigned int block, std::size_t shared, Body body) {
    gridDim.x = grid;
    blockDim.x = block;
    std::barrier<> grid_barrier(static_cast<std::ptrdiff_t>(grid) * block);
    tr_grid_barrier = &grid_barrier;
    std::vector<std::unique_ptr<std::barrier<>>> block_barriers;
    std::vector<std::vector<unsigned char>> shared_memory;
    for (unsigned int b = 0; b < grid; ++b) {
        block_barriers.emplace_back(new std::barrier<>(block));
        shared_memory.emplace_back(shared);
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
}
