#include "CCurl.h"
#include <pthread.h>
#include <stdlib.h>

CURLcode berth_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
CURLcode berth_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
CURLcode berth_setopt_ptr(CURL *h, CURLoption o, const void *v) { return curl_easy_setopt(h, o, v); }
CURLcode berth_setopt_datafn(CURL *h, CURLoption o, berth_data_cb fn) { return curl_easy_setopt(h, o, fn); }
CURLcode berth_setopt_xferfn(CURL *h, berth_xfer_cb fn) { return curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, fn); }
CURLcode berth_getinfo_long(CURL *h, CURLINFO i, long *out) { return curl_easy_getinfo(h, i, out); }
CURLcode berth_getinfo_off(CURL *h, CURLINFO i, curl_off_t *out) { return curl_easy_getinfo(h, i, out); }
CURLcode berth_getinfo_string(CURL *h, CURLINFO i, const char **out) { return curl_easy_getinfo(h, i, out); }

static pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
static pthread_once_t share_once = PTHREAD_ONCE_INIT;
static void share_init(void) {
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_init(&share_locks[i], NULL);
}
static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *u) {
    (void)h; (void)a; (void)u; pthread_mutex_lock(&share_locks[d]);
}
static void share_unlock(CURL *h, curl_lock_data d, void *u) {
    (void)h; (void)u; pthread_mutex_unlock(&share_locks[d]);
}
CURLSH *berth_share_new(void) {
    pthread_once(&share_once, share_init);
    CURLSH *s = curl_share_init();
    if (!s) return NULL;
    curl_share_setopt(s, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(s, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(s, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(s, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(s, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    return s;
}
