#ifndef BERTH_CCURL_H
#define BERTH_CCURL_H
#include <curl/curl.h>

/* curl_easy_setopt / getinfo are variadic, which Swift cannot call; these typed wrappers can. */
CURLcode berth_setopt_long(CURL *h, CURLoption o, long v);
CURLcode berth_setopt_off(CURL *h, CURLoption o, curl_off_t v);
CURLcode berth_setopt_ptr(CURL *h, CURLoption o, const void *v);
typedef size_t (*berth_data_cb)(char *ptr, size_t size, size_t nmemb, void *userdata);
CURLcode berth_setopt_datafn(CURL *h, CURLoption o, berth_data_cb fn);
typedef int (*berth_xfer_cb)(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow);
CURLcode berth_setopt_xferfn(CURL *h, berth_xfer_cb fn);

CURLcode berth_getinfo_long(CURL *h, CURLINFO i, long *out);
CURLcode berth_getinfo_off(CURL *h, CURLINFO i, curl_off_t *out);
CURLcode berth_getinfo_string(CURL *h, CURLINFO i, const char **out);

/* A share handle whose connection cache, DNS cache and TLS sessions are shared by every easy
   handle attached to it, guarded by internal mutexes so handles may run on different threads. */
CURLSH *berth_share_new(void);
#endif
