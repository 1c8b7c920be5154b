@testable import SlimOpenCL
import Testing

/// The GPU "% of peak" divides by compute units × lanes per unit × 2 × clock:
/// the lanes depend on what the vendor calls a compute unit.
@Suite struct DevicePeakTests {
    @Test func lanesPerComputeUnitFollowTheVendor() {
        #expect(OpenCLDevice.fp32LanesPerComputeUnit(vendor: "NVIDIA Corporation") == 128)  // an SM
        #expect(OpenCLDevice.fp32LanesPerComputeUnit(vendor: "Advanced Micro Devices, Inc.") == 64)  // a CU
        #expect(OpenCLDevice.fp32LanesPerComputeUnit(vendor: "AMD") == 64)
        #expect(OpenCLDevice.fp32LanesPerComputeUnit(vendor: "Intel(R) Corporation") == 16)  // an EU
    }
}
