// The .npy reader and writer of kiln-ir (tools/kiln-ir/npy.h) against the bytes NumPy writes.
#include <gtest/gtest.h>

#include <cstring>

#include "tools/kiln-ir/npy.h"

namespace {

using kiln::ScalarType;
using kiln::tools::formatNpy;
using kiln::tools::NpyArray;
using kiln::tools::parseNpy;

// numpy.save('a.npy', numpy.arange(6, dtype='<f8').reshape(2, 3)) with NumPy 1.x: magic, version
// 1.0, header length 118 (so that the data starts at byte 128), the dict, spaces, '\n'.
std::string numpyBytes() {
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
  header.append(128 - 10 - header.size() - 1, ' ');
  header.push_back('\n');
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes.push_back(static_cast<char>(header.size()));
  bytes.push_back(0);
  bytes += header;
  for (int i = 0; i < 6; ++i) {
    double v = i;
    bytes.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  return bytes;
}

std::string parseError(const std::string& bytes) {
  NpyArray a;
  std::string error;
  EXPECT_FALSE(parseNpy(bytes, &a, &error));
  return error;
}

// A version 1.0 file with the given header dict and data.
std::string withHeader(const std::string& dict, const std::string& data = "") {
  std::string bytes("\x93NUMPY\x01\x00", 8);
  std::string header = dict + "\n";
  bytes.push_back(static_cast<char>(header.size() & 0xff));
  bytes.push_back(static_cast<char>(header.size() >> 8));
  return bytes + header + data;
}

TEST(Npy, ReadsWhatNumpyWrites) {
  NpyArray a;
  std::string error;
  ASSERT_TRUE(parseNpy(numpyBytes(), &a, &error)) << error;
  EXPECT_EQ(a.dtype, ScalarType::Double);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(a.data.size(), 48u);
  double v[6];
  std::memcpy(v, a.data.data(), sizeof v);
  EXPECT_EQ(v[5], 5.0);
}

TEST(Npy, WritesWhatNumpyWrites) {
  NpyArray a;
  std::string error;
  ASSERT_TRUE(parseNpy(numpyBytes(), &a, &error)) << error;
  EXPECT_EQ(formatNpy(a), numpyBytes());
}

TEST(Npy, RoundTripsEveryDtypeAndRank) {
  const std::vector<std::pair<ScalarType, std::vector<int64_t>>> cases = {
      {ScalarType::Float, {5, 3}},
      {ScalarType::Double, {}},
      {ScalarType::Int, {7}},
      {ScalarType::Long, {2, 0}},
      {ScalarType::Bool, {2, 2, 2}}};
  for (const auto& [dtype, shape] : cases) {
    NpyArray a;
    a.dtype = dtype;
    a.shape = shape;
    a.data.resize(a.numel() * kiln::elementSize(dtype));
    for (size_t i = 0; i < a.data.size(); ++i)
      a.data[i] = dtype == ScalarType::Bool ? static_cast<char>(i % 2) : static_cast<char>(i * 7);
    std::string bytes = formatNpy(a);
    EXPECT_EQ(bytes.find('\n') + 1, 64u * ((bytes.find('\n') + 64) / 64))
        << "the data starts 64-byte aligned";
    NpyArray b;
    std::string error;
    ASSERT_TRUE(parseNpy(bytes, &b, &error)) << error;
    EXPECT_EQ(b.dtype, a.dtype);
    EXPECT_EQ(b.shape, a.shape);
    EXPECT_EQ(b.data, a.data);
  }
}

TEST(Npy, ReadsVersion2AndOtherWritersSpacing) {
  std::string header = "{\"shape\":(3,),\"fortran_order\":False,\"descr\":\"<i4\"}\n";
  std::string bytes("\x93NUMPY\x02\x00", 8);
  for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xff));
  bytes += header + std::string(12, '\x01');
  NpyArray a;
  std::string error;
  ASSERT_TRUE(parseNpy(bytes, &a, &error)) << error;
  EXPECT_EQ(a.dtype, ScalarType::Int);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{3}));
}

TEST(Npy, ClearErrors) {
  EXPECT_EQ(parseError("hello"), "not a .npy file (no \\x93NUMPY magic string)");
  EXPECT_EQ(parseError(std::string("\x93NUMPY\x03\x00\x00\x00\x00\x00", 12)),
            "unsupported .npy format version 3.0 (1.0 and 2.0 are supported)");
  EXPECT_EQ(parseError(withHeader("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }",
                                  std::string(4, 0))),
            "unsupported dtype '>f4' (supported: <f4 <f8 <i4 <i8 |b1, little-endian)");
  EXPECT_EQ(parseError(withHeader("{'descr': '<u2', 'fortran_order': False, 'shape': (1,), }",
                                  std::string(2, 0))),
            "unsupported dtype '<u2' (supported: <f4 <f8 <i4 <i8 |b1, little-endian)");
  EXPECT_EQ(parseError(withHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
                                  std::string(16, 0))),
            "Fortran-order arrays are not supported (save numpy.ascontiguousarray(a) instead)");
  EXPECT_EQ(parseError(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
                                  std::string(15, 0))),
            "the data is 15 bytes; shape (2, 2) of <f4 needs 16");
  EXPECT_EQ(parseError(withHeader("{'descr': '<f4', 'fortran_order': False}")),
            "bad .npy header: the header needs 'descr', 'fortran_order' and 'shape'");
  EXPECT_EQ(parseError(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }")),
            "bad .npy header: 'shape' must be a tuple of non-negative integers");
  EXPECT_EQ(
      parseError(withHeader(
          "{'descr': '<f4', 'fortran_order': False, 'shape': (1048576, 1048576, 1048576), }")),
      "the array has more than 2^40 elements");
  EXPECT_EQ(parseError(std::string("\x93NUMPY\x01\x00\xff\x00{", 11)), "truncated .npy header");
}

}  // namespace
