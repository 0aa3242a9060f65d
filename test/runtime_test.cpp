// The runtime's interfaces: the CPU device, buffers, the kernel cache keyed on the target, and
// plans that allocate, copy and launch only through their device and its backend.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "codegen/builder.h"
#include "lib/frontend/common.h"
#include "lib/ir/parse.h"
#include "lib/passes/passes.h"
#include "lib/sched/schedule.h"
#include "runtime/buffer.h"
#include "runtime/cpu/llvm_backend.h"
#include "runtime/thread_pool.h"
#include "runtime/kernel_cache.h"
#include "runtime/plan.h"

namespace {

using kiln::runtime::Backend;
using kiln::runtime::Buffer;
using kiln::runtime::BufferPtr;
using kiln::runtime::CompiledKernel;
using kiln::runtime::CompileOptions;
using kiln::runtime::Device;
using kiln::runtime::Stream;
using kiln::runtime::Target;

// x * 2 + y on 4 floats, then summed: two kernels (the reduction is its own).
constexpr const char* kGraph = R"(graph {
  %0 = param 0 : f32[4]
  %1 = param 1 : f32[4]
  %2 = const 2 : f32[4]
  %3 = mul %0, %2 : f32[4]
  %4 = add %3, %1 : f32[4]
  %5 = reduce.sum %4 {axes=[0]} : f32[1]
  return %4, %5
}
)";

kiln::ir::Graph parse(const char* text) {
  kiln::ir::ParseResult r = kiln::ir::parseGraph(text);
  EXPECT_TRUE(r.graph.has_value()) << r.error;
  return *r.graph;
}

kiln::codegen::Kernel firstKernel(const kiln::ir::Graph& g) {
  kiln::sched::Schedule s = kiln::sched::schedule(kiln::passes::simplify(g).graph);
  for (const kiln::sched::Step& st : s.steps) {
    if (st.kind == kiln::sched::Step::Kind::Kernel) return st.kernel;
  }
  ADD_FAILURE() << "no kernel";
  return {};
}

// A backend for a target of its own (no two instances share one, so no cached kernel points at
// a destroyed instance) that compiles through LLVM and counts what it does.
class CountingBackend final : public Backend {
 public:
  CountingBackend() : target_(kiln::kCPU, "counting-test-arch-" + std::to_string(instances++)) {}
  const Target& target() const override { return target_; }
  std::shared_ptr<const CompiledKernel> compile(const kiln::codegen::Kernel& kernel,
                                                const CompileOptions& options) override {
    ++compiles;
    return std::make_shared<Counted>(kiln::runtime::llvmBackend().compile(kernel, options), this);
  }
  std::string scheduleText(const kiln::codegen::Kernel& kernel) const override {
    return kiln::runtime::llvmBackend().scheduleText(kernel);
  }
  int compiles = 0;
  int launches = 0;

 private:
  struct Counted final : CompiledKernel {
    Counted(std::shared_ptr<const CompiledKernel> k, CountingBackend* b) : inner(k), owner(b) {}
    void launch(void* const* buffers, const uint64_t* args, Stream& stream) const override {
      ++owner->launches;
      inner->launch(buffers, args, stream);
    }
    std::shared_ptr<const CompiledKernel> inner;
    CountingBackend* owner;
  };
  static inline int instances = 0;
  Target target_;
};

// Host memory of its own, counting every allocation, copy and synchronisation.
class CountingDevice final : public Device {
 public:
  struct Sync final : Stream {
    explicit Sync(CountingDevice* d) : device(d) {}
    void synchronize() override { ++device->syncs; }
    CountingDevice* device;
  };
  kiln::Device id() const override { return kiln::Device(kiln::kCPU); }
  Backend& backend() override { return backend_; }
  Stream& defaultStream() override { return stream_; }
  BufferPtr allocate(size_t bytes) override {
    ++allocations;
    return Buffer::adopt(*this, std::aligned_alloc(64, (bytes + 63) / 64 * 64 + 64), bytes);
  }
  void copyFromHost(const void* src, Buffer& dst, size_t bytes) override {
    ++copies;
    std::memcpy(dst.data(), src, bytes);
  }
  void copyToHost(const Buffer& src, void* dst, size_t bytes) override {
    ++copies;
    std::memcpy(dst, src.data(), bytes);
  }
  void copy(const Buffer& src, Buffer& dst, size_t bytes) override {
    ++copies;
    std::memcpy(dst.data(), src.data(), bytes);
  }
  void synchronize() override { ++syncs; }
  CountingBackend& counting() { return backend_; }

  int allocations = 0, releases = 0, copies = 0, syncs = 0;

 protected:
  void release(void* data, size_t) override {
    ++releases;
    std::free(data);
  }

 private:
  CountingBackend backend_;
  Sync stream_{this};
};

BufferPtr hostFloats(Device& device, const std::vector<float>& values) {
  BufferPtr b = device.allocate(values.size() * sizeof(float));
  device.copyFromHost(values.data(), *b, values.size() * sizeof(float));
  return b;
}

std::vector<float> readFloats(const Buffer& b) {
  std::vector<float> out(b.bytes() / sizeof(float));
  b.device().copyToHost(b, out.data(), b.bytes());
  return out;
}

TEST(Threads, CountIsSetAsInLibtorch) {
  const int saved = kiln::get_num_threads();
  EXPECT_GE(saved, 1);
  kiln::set_num_threads(3);
  EXPECT_EQ(kiln::get_num_threads(), 3);
  try {
    kiln::set_num_threads(0);
    ADD_FAILURE() << "set_num_threads(0) did not throw";
  } catch (const kiln::Error& e) {
    EXPECT_STREQ(e.what(), "set_num_threads: Expected positive number of threads, got 0");
  }
  EXPECT_EQ(kiln::get_num_threads(), 3);
  kiln::set_num_threads(saved);
}

TEST(Threads, ParallelForCoversTheRangeOnceInChunksOfAtLeastTheMinimum) {
  const int saved = kiln::get_num_threads();
  kiln::set_num_threads(3);
  struct Seen {
    std::vector<std::atomic<int>> hits = std::vector<std::atomic<int>>(1000);
    std::atomic<int64_t> smallest{1 << 30};
  } seen;
  kiln::runtime::parallelFor(
      1000, 7,
      [](void* context, int64_t begin, int64_t end) {
        auto* s = static_cast<Seen*>(context);
        int64_t size = end - begin, cur = s->smallest.load();
        while (size < cur && !s->smallest.compare_exchange_weak(cur, size)) {
        }
        for (int64_t i = begin; i < end; ++i) s->hits[i]++;
      },
      &seen);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(seen.hits[i].load(), 1) << i;
  EXPECT_GE(seen.smallest.load(), 7);
  kiln::set_num_threads(saved);
}

TEST(CpuDevice, AllocatesAlignedBuffersThatKnowTheirDevice) {
  Device& cpu = kiln::runtime::cpuDevice();
  EXPECT_EQ(cpu.id(), kiln::Device(kiln::kCPU));
  EXPECT_EQ(&kiln::runtime::deviceFor(kiln::Device("cpu")), &cpu);
  BufferPtr b = hostFloats(cpu, {1, 2, 3});
  EXPECT_EQ(&b->device(), &cpu);
  EXPECT_EQ(b->bytes(), 12u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b->data()) % 64, 0u);
  BufferPtr c = b->clone();
  EXPECT_NE(c->data(), b->data());
  EXPECT_EQ(readFloats(*c), (std::vector<float>{1, 2, 3}));
}

TEST(CpuDevice, ReusesFreedBlocksOfEverySize) {
  // A small block comes back for the next buffer of its size class (1400 and 1500 bytes are
  // both held in 1536-byte blocks), a large one for the next buffer of its size; both aligned.
  Device& cpu = kiln::runtime::cpuDevice();
  for (auto [first, second] :
       {std::pair<size_t, size_t>{12, 12}, {1500, 1400}, {1 << 20, 1 << 20}}) {
    void* freed;
    {
      BufferPtr a = cpu.allocate(first);
      freed = a->data();
    }
    BufferPtr b = cpu.allocate(second);
    EXPECT_EQ(b->data(), freed) << first << " then " << second << " bytes";
    EXPECT_EQ(b->bytes(), second);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b->data()) % 64, 0u);
  }
}

TEST(CpuDevice, OutOfMemoryIsPyTorchsError) {
  const size_t huge = std::numeric_limits<size_t>::max() - 8;
  try {
    kiln::runtime::cpuDevice().allocate(huge);
    FAIL() << "allocated " << huge << " bytes";
  } catch (const kiln::Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "DefaultCPUAllocator: not enough memory: you tried to allocate " +
                  std::to_string(huge) + " bytes.");
  }
}

TEST(Devices, WithoutABackendAreNotSupportedYet) {
  try {
    kiln::runtime::deviceFor(kiln::Device("cuda:0"));
    FAIL();
  } catch (const kiln::Error& e) {
    EXPECT_NE(std::string(e.what()).find("cuda:0 tensors are not supported yet"), std::string::npos)
        << e.what();
  }
}

TEST(KernelCache, KeysOnTheTarget) {
  kiln::codegen::Kernel k = firstKernel(parse(kGraph));
  CountingBackend other;
  kiln::runtime::cachedKernel(kiln::runtime::llvmBackend(), k);  // the host's, maybe cached
  kiln::Stats before = kiln::stats();
  auto a = kiln::runtime::cachedKernel(other, k);
  auto b = kiln::runtime::cachedKernel(other, k);
  EXPECT_EQ(other.compiles, 1);  // the host's copy is not the other target's
  EXPECT_EQ(a, b);
  EXPECT_EQ(kiln::stats().kernels_compiled - before.kernels_compiled, 1);
  EXPECT_NE(kiln::runtime::cachedKernel(kiln::runtime::llvmBackend(), k), a);
  EXPECT_NE(other.target().key(), kiln::runtime::llvmBackend().target().key());
}

TEST(Plan, AllocatesAndLaunchesThroughItsDevice) {
  kiln::ir::Graph g = parse(kGraph);
  CountingDevice device;
  {
    auto plan = kiln::runtime::buildPlan(g, device);
    int kernels = 0;
    for (const auto& st : plan->schedule.steps)
      kernels += st.kind == kiln::sched::Step::Kind::Kernel;
    std::vector<BufferPtr> params = {hostFloats(device, {1, 2, 3, 4}),
                                     hostFloats(device, {10, 20, 30, 40})};
    const int allocations_before = device.allocations;
    std::vector<BufferPtr> slots = kiln::runtime::runPlan(*plan, g, params);
    EXPECT_EQ(device.counting().launches, kernels);
    EXPECT_EQ(device.counting().compiles, kernels);
    EXPECT_GE(device.syncs, 1);
    int fresh = 0;
    for (const auto& slot : plan->schedule.slots) fresh += slot.param < 0;
    EXPECT_EQ(device.allocations - allocations_before, fresh);
    for (const BufferPtr& s : slots) EXPECT_EQ(&s->device(), &device);
    // Hand-computed: x * 2 + y and its sum.
    EXPECT_EQ(readFloats(*slots[plan->schedule.output_slots[0]]),
              (std::vector<float>{12, 24, 36, 48}));
    EXPECT_EQ(readFloats(*slots[plan->schedule.output_slots[1]]), (std::vector<float>{120}));
  }
  EXPECT_EQ(device.releases, device.allocations);  // every buffer went back to its device
}

}  // namespace

namespace {

// kiln cannot make CUDA tensors yet: a storage that says it lives on cuda:0 stands for one.
kiln::Tensor onCuda(std::vector<int64_t> shape) {
  return kiln::detail::fromNode(kiln::detail::constantNode(1.0, kiln::kFloat, shape),
                                kiln::Device("cuda:0"));
}

void expectError(const std::function<void()>& f, const std::string& message) {
  try {
    f();
    ADD_FAILURE() << "no error; expected: " << message;
  } catch (const kiln::Error& e) {
    EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
  }
}

TEST(Devices, OpsRefuseTensorsOnTwoDevicesAsPyTorchDoes) {
  kiln::Tensor cuda = onCuda({2, 2});
  kiln::Tensor cpu = kiln::ones({2, 2});
  const std::string same =
      "Expected all tensors to be on the same device, but found at least two devices, ";
  expectError([&] { cpu + cuda; }, same + "cpu and cuda:0!");
  expectError([&] { cuda* cpu; }, same + "cuda:0 and cpu!");
  expectError([&] { cpu.add_(cuda); }, same + "cpu and cuda:0!");
  expectError([&] { kiln::where(cpu > 0, cpu, cuda); }, same + "cpu and cuda:0!");
  expectError([&] { kiln::mm(cpu, cuda); }, same + "cpu and cuda:0!");
  expectError([&] { kiln::cat({cpu, cuda}); }, same + "cpu and cuda:0!");
  // One device, but one kiln has no backend for: refused when the op is recorded.
  expectError([&] { kiln::exp(cuda); }, "cuda:0 tensors are not supported yet");
  // A zero-dimensional CPU tensor joins a tensor of another device, as a number would.
  expectError([&] { cuda + kiln::tensor(2.0); }, "cuda:0 tensors are not supported yet");
  EXPECT_TRUE(kiln::equal(cpu + kiln::tensor(2.0), kiln::full({2, 2}, 3.0)));
}

}  // namespace

namespace {

// out[i] = i * k as int64 over 64 points: one distinct kernel per k.
kiln::codegen::Kernel iotaTimes(int64_t k) {
  kiln::codegen::KernelBuilder b;
  kiln::codegen::Store st;
  st.buffer = b.addBuffer(kiln::kLong, true);
  kiln::codegen::Lin i = b.var(b.addLoop(64, kiln::codegen::LoopRole::Parallel));
  st.index = b.materialize(i);
  st.value = b.op(kiln::ir::ScalarOp::Mul, kiln::kLong, st.index, b.intConst(k));
  b.store(st);
  return b.take();
}

TEST(LlvmBackend, CompilesConcurrentlyAndFreesCodeWithItsLastReference) {
  Backend& backend = kiln::runtime::llvmBackend();
  const int64_t before = kiln::runtime::LlvmBackend::liveKernels();
  constexpr int kKernels = 8;
  std::vector<std::shared_ptr<const CompiledKernel>> kernels(kKernels);
  auto compileEvery = [&](int parity) {
    for (int k = parity; k < kKernels; k += 2) {
      CompileOptions options;
      options.name = "runtime_test_concurrent_" + std::to_string(k);
      kernels[k] = backend.compile(iotaTimes(k + 2), options);
    }
  };
  std::thread other(compileEvery, 1);
  compileEvery(0);
  other.join();
  EXPECT_EQ(kiln::runtime::LlvmBackend::liveKernels(), before + kKernels);
  for (int k = 0; k < kKernels; ++k) {
    std::vector<int64_t> out(64, -1);
    void* buffers[] = {out.data()};
    kernels[k]->launch(buffers, nullptr, kiln::runtime::cpuDevice().defaultStream());
    for (int64_t i = 0; i < 64; ++i) ASSERT_EQ(out[i], i * (k + 2)) << k;
  }
  kernels.clear();
  EXPECT_EQ(kiln::runtime::LlvmBackend::liveKernels(), before);
}

}  // namespace

namespace {

TEST(KernelCache, HoldsABoundedNumberAndFreesWhatItDrops) {
  Backend& backend = kiln::runtime::llvmBackend();
  const size_t saved = kiln::runtime::kernelCacheCapacity();
  kiln::runtime::clearKernelCache();
  kiln::runtime::setKernelCacheCapacity(4);
  const int64_t live = kiln::runtime::LlvmBackend::liveKernels();
  for (int k = 0; k < 10; ++k) kiln::runtime::cachedKernel(backend, iotaTimes(1000 + k));
  EXPECT_EQ(kiln::runtime::cachedKernelCount(), 4u);
  EXPECT_EQ(kiln::runtime::LlvmBackend::liveKernels(), live + 4);  // the other 6 were freed
  // The 4 most recent are still there; the first must be compiled again.
  kiln::reset_stats();
  kiln::runtime::cachedKernel(backend, iotaTimes(1009));
  EXPECT_EQ(kiln::stats().kernels_compiled, 0);
  kiln::runtime::cachedKernel(backend, iotaTimes(1000));
  EXPECT_EQ(kiln::stats().kernels_compiled, 1);
  EXPECT_EQ(kiln::runtime::cachedKernelCount(), 4u);
  kiln::runtime::setKernelCacheCapacity(saved);
  kiln::runtime::clearKernelCache();
  EXPECT_EQ(kiln::runtime::LlvmBackend::liveKernels(), live);
}

}  // namespace
