// IEEE binary16 conversions, exact and round-to-nearest-even, identical to F16C and CUDA's __half.
#pragma once

#include <cstdint>
#include <cstring>

namespace mg {

inline uint32_t float_bits(float value) {
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    return bits;
}

inline float bits_float(uint32_t bits) {
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

// Shifts right by `shift` bits, rounding half to even.
inline uint32_t shift_round_even(uint32_t value, uint32_t shift) {
    uint32_t kept = value >> shift;
    uint32_t rest = value & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    return kept + ((rest > half || (rest == half && (kept & 1))) ? 1 : 0);
}

inline uint16_t f32_to_f16(float value) {
    uint32_t bits = float_bits(value);
    uint32_t sign = (bits >> 16) & 0x8000u;
    uint32_t magnitude = bits & 0x7fffffffu;
    if (magnitude > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
    if (magnitude >= 0x47800000u) return static_cast<uint16_t>(sign | 0x7c00u);  // too large: inf
    uint32_t exponent = magnitude >> 23;
    if (exponent >= 113)  // normal half: rebias the exponent, round the mantissa
        return static_cast<uint16_t>(sign | shift_round_even(magnitude - (112u << 23), 13));
    if (exponent == 0 || 126 - exponent > 24) return static_cast<uint16_t>(sign);  // underflows to zero
    uint32_t mantissa = (magnitude & 0x7fffffu) | 0x800000u;
    return static_cast<uint16_t>(sign | shift_round_even(mantissa, 126 - exponent));
}

inline float f16_to_f32(uint16_t half) {
    uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
    uint32_t exponent = (half >> 10) & 0x1fu;
    uint32_t mantissa = half & 0x3ffu;
    if (exponent == 0) {  // zero or subnormal: mantissa x 2^-24, exact in f32
        float magnitude = static_cast<float>(mantissa) * bits_float(0x33800000u);
        return bits_float(float_bits(magnitude) | sign);
    }
    if (exponent == 31) return bits_float(sign | 0x7f800000u | (mantissa << 13));
    return bits_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

}  // namespace mg
