// libcurl for Swift: curl_easy_setopt and friends are variadic, which Swift cannot call, so
// each type of option value gets a typed inline wrapper.
#include <curl/curl.h>

typedef size_t (*rc_data_callback)(char *, size_t, size_t, void *);
typedef int (*rc_progress_callback)(void *, curl_off_t, curl_off_t, curl_off_t, curl_off_t);

static inline CURLcode rc_set_long(CURL *easy, CURLoption option, long value) { return curl_easy_setopt(easy, option, value); }
static inline CURLcode rc_set_pointer(CURL *easy, CURLoption option, const void *value) { return curl_easy_setopt(easy, option, value); }
static inline CURLcode rc_set_size(CURL *easy, CURLoption option, curl_off_t value) { return curl_easy_setopt(easy, option, value); }
static inline CURLcode rc_set_data_callback(CURL *easy, CURLoption option, rc_data_callback value) { return curl_easy_setopt(easy, option, value); }
static inline CURLcode rc_set_progress_callback(CURL *easy, rc_progress_callback value) {
    return curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, value);
}
static inline long rc_response_code(CURL *easy) {
    long code = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    return code;
}
static inline CURLMcode rc_multi_set_long(CURLM *multi, CURLMoption option, long value) { return curl_multi_setopt(multi, option, value); }
static inline CURL *rc_message_handle(CURLMsg *message) { return message->easy_handle; }
static inline int rc_message_done(CURLMsg *message) { return message->msg == CURLMSG_DONE; }
static inline CURLcode rc_message_result(CURLMsg *message) { return message->data.result; }
