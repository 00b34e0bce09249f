// The page's service worker (served at /sw.js, so its scope is the whole page): shows aidmap's Web Push
// notifications (payloads decrypted by the browser) and opens their link when clicked.
self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { title: "aidmap", body: event.data ? event.data.text() : "" };
  }
  event.waitUntil(
    self.registration.showNotification(data.title || "aidmap", {
      body: data.body || "", icon: "/icon.svg", tag: data.eventId, data: { url: data.url || "/" },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(self.clients.openWindow(url));
});
