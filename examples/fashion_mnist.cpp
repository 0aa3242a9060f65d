// Trains an MLP (784-512-512-10, ReLU) on Fashion-MNIST with cross-entropy and SGD with momentum
// or Adam, written as in libtorch. Each training step (forward, backward and the optimizer
// update) is one lazy graph, compiled on the first step and reused by every later one.
//
//   fashion_mnist [--epochs N] [--optimizer sgd|adam] [--lr X] [--batch N] [--limit N]
//                 [--eager] [--synthetic] [--data DIR] [--seed N] [--profile]
//
// --profile records every kernel launch (kiln::profiler) and prints the profiler's table at the
// end: time, GB/s and GFLOP/s per kernel, and where in the graph each one comes from.
//
// The data set comes from Debian's dataset-fashion-mnist package (IDX files, gzip-compressed,
// under /usr/share/datasets/fashion-mnist). Without it (or with --synthetic) the program says so
// and trains on a synthetic set of the same shape: 10 Gaussian clusters in 784 dimensions.
#include <kiln/kiln.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <numeric>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace F = kiln::nn::functional;

namespace {

constexpr int64_t kPixels = 28 * 28;
constexpr int64_t kClasses = 10;
// The training set's mean and standard deviation of pixel values in [0, 1]: inputs are
// standardised so that the default initialisation suits them.
constexpr float kMean = 0.2860f;
constexpr float kStd = 0.3530f;

struct Split {
  std::vector<float> images;  // n x 784, standardised
  std::vector<int64_t> labels;
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

struct Options {
  int epochs = 3;
  std::string optimizer = "sgd";
  std::optional<double> lr;
  int64_t batch = 256;
  int64_t limit = 0;
  bool eager = false;
  bool synthetic = false;
  std::string data = "/usr/share/datasets/fashion-mnist";
  uint64_t seed = 0;
  bool profile = false;
};

[[noreturn]] void usage(const char* message) {
  std::cerr << "fashion_mnist: " << message
            << "\nusage: fashion_mnist [--epochs N] [--optimizer sgd|adam] [--lr X] [--batch N]"
               " [--limit N] [--eager] [--synthetic] [--data DIR] [--seed N] [--profile]\n";
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value after " + a).c_str());
      return argv[++i];
    };
    try {
      if (a == "--epochs") {
        o.epochs = std::stoi(value());
      } else if (a == "--optimizer") {
        o.optimizer = value();
        if (o.optimizer != "sgd" && o.optimizer != "adam") usage("--optimizer is sgd or adam");
      } else if (a == "--lr") {
        o.lr = std::stod(value());
      } else if (a == "--batch") {
        o.batch = std::stoll(value());
      } else if (a == "--limit") {
        o.limit = std::stoll(value());
      } else if (a == "--eager") {
        o.eager = true;
      } else if (a == "--synthetic") {
        o.synthetic = true;
      } else if (a == "--data") {
        o.data = value();
      } else if (a == "--seed") {
        o.seed = std::stoull(value());
      } else if (a == "--profile") {
        o.profile = true;
      } else if (a == "--help" || a == "-h") {
        usage("trains an MLP on Fashion-MNIST");
      } else {
        usage(("unknown argument " + a).c_str());
      }
    } catch (const std::logic_error&) {
      usage(("bad value for " + a).c_str());
    }
  }
  if (o.epochs < 1 || o.batch < 1 || o.limit < 0) usage("--epochs and --batch must be positive");
  return o;
}

// The whole gzip-compressed file, uncompressed.
std::vector<uint8_t> readGzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) throw std::runtime_error("cannot open " + path);
  std::vector<uint8_t> out;
  std::vector<uint8_t> chunk(1 << 20);
  int n;
  while ((n = gzread(f, chunk.data(), static_cast<unsigned>(chunk.size()))) > 0) {
    out.insert(out.end(), chunk.begin(), chunk.begin() + n);
  }
  int err = 0;
  const char* message = gzerror(f, &err);
  std::string why = message ? message : "";
  gzclose(f);
  if (n < 0 || (err != Z_OK && err != Z_STREAM_END)) {
    throw std::runtime_error("cannot read " + path + ": " + why);
  }
  return out;
}

uint32_t bigEndian(const std::vector<uint8_t>& b, size_t at) {
  return (uint32_t{b[at]} << 24) | (uint32_t{b[at + 1]} << 16) | (uint32_t{b[at + 2]} << 8) |
         uint32_t{b[at + 3]};
}

// IDX files: a magic number (0x0803 for images, 0x0801 for labels), the dimensions, then bytes.
Split readIdx(const std::string& images_path, const std::string& labels_path) {
  std::vector<uint8_t> img = readGzip(images_path);
  std::vector<uint8_t> lab = readGzip(labels_path);
  if (img.size() < 16 || bigEndian(img, 0) != 0x803) {
    throw std::runtime_error(images_path + " is not an IDX image file");
  }
  if (lab.size() < 8 || bigEndian(lab, 0) != 0x801) {
    throw std::runtime_error(labels_path + " is not an IDX label file");
  }
  const size_t n = bigEndian(img, 4);
  if (bigEndian(img, 8) != 28 || bigEndian(img, 12) != 28 || bigEndian(lab, 4) != n ||
      img.size() != 16 + n * kPixels || lab.size() != 8 + n) {
    throw std::runtime_error(images_path + ": unexpected sizes");
  }
  Split s;
  s.images.resize(n * kPixels);
  for (size_t i = 0; i < s.images.size(); ++i) {
    s.images[i] = (static_cast<float>(img[16 + i]) / 255.0f - kMean) / kStd;
  }
  s.labels.assign(lab.begin() + 8, lab.end());
  return s;
}

// 10 Gaussian clusters: class centres with independent N(0, 0.1^2) coordinates (about 4 apart),
// samples at unit noise around them, so that the clusters overlap: the best classifier is
// right about 85% of the time, as a good MLP is on Fashion-MNIST.
Split synthetic(int64_t n, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<float> normal;
  static const std::vector<float> centres = [] {
    std::mt19937_64 g(12345);
    std::normal_distribution<float> nd;
    std::vector<float> c(kClasses * kPixels);
    for (float& v : c) v = 0.1f * nd(g);
    return c;
  }();
  Split s;
  s.images.resize(n * kPixels);
  s.labels.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    int64_t c = static_cast<int64_t>(gen() % kClasses);
    s.labels[i] = c;
    for (int64_t j = 0; j < kPixels; ++j) {
      s.images[i * kPixels + j] = centres[c * kPixels + j] + normal(gen);
    }
  }
  return s;
}

double seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Test accuracy in chunks of one shape (one compiled graph for all of them).
double accuracy(kiln::nn::Sequential& model, const Split& test) {
  kiln::NoGradGuard no_grad;
  model->eval();
  constexpr int64_t kChunk = 1000;
  int64_t correct = 0;
  std::vector<float> xs(kChunk * kPixels);
  std::vector<int64_t> ys(kChunk);
  for (int64_t at = 0; at < test.size(); at += kChunk) {
    int64_t n = std::min(kChunk, test.size() - at);
    std::copy_n(test.images.begin() + at * kPixels, n * kPixels, xs.begin());
    std::copy_n(test.labels.begin() + at, n, ys.begin());
    kiln::Tensor x = kiln::from_blob(xs.data(), {n, kPixels});
    kiln::Tensor y = kiln::from_blob(ys.data(), {n}, kiln::kLong);
    correct += model->forward(x).argmax(1).eq(y).sum().item<int64_t>();
  }
  model->train();
  return test.size() ? static_cast<double>(correct) / static_cast<double>(test.size()) : 0.0;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt = parse(argc, argv);
  if (opt.eager) kiln::set_eager(true);
  if (opt.profile) kiln::profiler::enable();

  Split train, test;
  std::string source;
  const std::string dir = opt.data;
  bool have = std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz");
  if (!opt.synthetic && !have) {
    std::cout << "Fashion-MNIST not found in " << dir
              << " (Debian package dataset-fashion-mnist); using a synthetic data set instead\n";
  }
  if (!opt.synthetic && have) {
    try {
      train = readIdx(dir + "/train-images-idx3-ubyte.gz", dir + "/train-labels-idx1-ubyte.gz");
      test = readIdx(dir + "/t10k-images-idx3-ubyte.gz", dir + "/t10k-labels-idx1-ubyte.gz");
      source = "Fashion-MNIST from " + dir;
    } catch (const std::exception& e) {
      std::cout << e.what() << "; using a synthetic data set instead\n";
    }
  }
  if (source.empty()) {
    train = synthetic(60000, 1);
    test = synthetic(10000, 2);
    source = "synthetic: 10 Gaussian clusters in 784 dimensions";
  }
  if (opt.limit > 0 && opt.limit < train.size()) {
    train.images.resize(opt.limit * kPixels);
    train.labels.resize(opt.limit);
  }

  kiln::manual_seed(opt.seed);
  kiln::nn::Sequential model(kiln::nn::Linear(kPixels, 512), kiln::nn::ReLU(),
                             kiln::nn::Linear(512, 512), kiln::nn::ReLU(),
                             kiln::nn::Linear(512, kClasses));
  std::unique_ptr<kiln::optim::Optimizer> optimizer;
  double lr;
  if (opt.optimizer == "adam") {
    lr = opt.lr.value_or(1e-3);
    optimizer =
        std::make_unique<kiln::optim::Adam>(model->parameters(), kiln::optim::AdamOptions(lr));
  } else {
    lr = opt.lr.value_or(0.02);
    optimizer = std::make_unique<kiln::optim::SGD>(model->parameters(),
                                                   kiln::optim::SGDOptions(lr).momentum(0.9));
  }
  int64_t n_params = 0;
  for (const kiln::Tensor& p : model->parameters()) n_params += p.numel();

  std::cout << "data: " << source << " (" << train.size() << " training, " << test.size()
            << " test examples)\n"
            << "model: " << *model << "\n"
            << n_params << " parameters; " << opt.optimizer << " lr " << lr
            << (opt.optimizer == "sgd" ? " momentum 0.9" : "") << "; batch " << opt.batch << "; "
            << (opt.eager ? "eager mode (one kernel per op)" : "lazy mode (fused graphs)") << "\n";

  const int64_t n = train.size();
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 shuffle_gen(opt.seed + 1);
  // Staging memory for one batch; each step wraps it (from_blob) and reads it when the step is
  // materialised, which ends before the next batch is copied in.
  std::vector<float> xb(opt.batch * kPixels);
  std::vector<int64_t> yb(opt.batch);

  for (int epoch = 1; epoch <= opt.epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), shuffle_gen);
    kiln::Stats before = kiln::stats();
    auto start = std::chrono::steady_clock::now();
    double loss_sum = 0;
    int64_t batches = 0;
    for (int64_t at = 0; at < n; at += opt.batch) {
      const int64_t b = std::min(opt.batch, n - at);
      for (int64_t i = 0; i < b; ++i) {
        int64_t k = order[at + i];
        std::memcpy(&xb[i * kPixels], &train.images[k * kPixels], kPixels * sizeof(float));
        yb[i] = train.labels[k];
      }
      kiln::Tensor x = kiln::from_blob(xb.data(), {b, kPixels});
      kiln::Tensor y = kiln::from_blob(yb.data(), {b}, kiln::kLong);
      // The closure form of step(): the loss is computed by the same materialisation as the
      // gradients and the update.
      kiln::Tensor loss = optimizer->step([&] {
        optimizer->zero_grad();
        kiln::Tensor l = F::cross_entropy(model->forward(x), y);
        l.backward();
        return l;
      });
      loss_sum += loss.item<double>();
      ++batches;
    }
    const double train_s = seconds(start);
    kiln::Stats after = kiln::stats();
    const double acc = accuracy(model, test);
    std::cout << std::fixed << "epoch " << epoch << "  loss " << std::setprecision(4)
              << loss_sum / static_cast<double>(std::max<int64_t>(batches, 1)) << "  test accuracy "
              << std::setprecision(2) << 100 * acc << "%  time " << std::setprecision(2) << train_s
              << " s  " << std::setprecision(0) << static_cast<double>(n) / train_s
              << " examples/s  kernels: " << after.kernels_compiled - before.kernels_compiled
              << " compiled, " << after.cache_hits - before.cache_hits << " reused, "
              << after.kernels_run - before.kernels_run << " run" << std::endl;
  }
  if (opt.profile) std::cout << "\nkernel profile (all epochs):\n" << kiln::profiler::table();
  return 0;
}
