#include <gtest/gtest.h>
#include <kiln/kiln.h>

TEST(Smoke, AddTwoTensors) {
  auto x = kiln::tensor({1.0, 2.0, 3.0});
  auto y = kiln::tensor({10.0, 20.0, 30.0});
  auto z = x + y * 2;
  EXPECT_FLOAT_EQ(z[0].item<float>(), 21.0f);
  EXPECT_FLOAT_EQ(z[2].item<float>(), 63.0f);
}
