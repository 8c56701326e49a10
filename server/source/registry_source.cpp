#include "source/source.h"

namespace bw {
namespace {

using boost::asio::awaitable;

class RegistrySource : public ImageSource {
 public:
  RegistrySource(RegistryClient& client, ImageRef ref) : client_(client), ref_(std::move(ref)) {}

  awaitable<Result<std::pair<std::string, std::vector<Platform>>>> platforms() override {
    co_return co_await client_.platforms(ref_);
  }

  awaitable<Result<ResolvedImage>> resolve(const Platform& platform,
                                           const KnownImage& known) override {
    co_return co_await client_.resolve(ref_, platform, known);
  }

  awaitable<Result<void>> fetch_blob(const ResolvedImage& image, const Descriptor& d,
                                     BlobSink sink) override {
    co_return co_await client_.fetch_blob(image, d, std::move(sink));
  }

 private:
  RegistryClient& client_;
  ImageRef ref_;
};

}  // namespace

std::unique_ptr<ImageSource> registry_source(RegistryClient& client, ImageRef ref) {
  return std::make_unique<RegistrySource>(client, std::move(ref));
}

}  // namespace bw
