// The names an enum goes by in JSON, SQL and messages, in one table per enum: the enum's values
// must be 0..N-1 in the table's order.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace bw {

template <typename E, std::size_t N>
struct EnumNames {
  std::array<std::string_view, N> names;

  constexpr std::string_view name(E e) const { return names[static_cast<std::size_t>(e)]; }
  // nullopt for a name the table does not hold.
  constexpr std::optional<E> parse(std::string_view name) const {
    for (std::size_t i = 0; i < N; ++i)
      if (names[i] == name) return static_cast<E>(i);
    return std::nullopt;
  }
};

}  // namespace bw
