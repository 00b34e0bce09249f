// Web Push for the page: a "Notify me" button in the signed-in area. The browser's permission is
// asked only when the person clicks it (never on load); then the service worker at /sw.js (scope "/")
// is registered and the subscription is sent to aidmap (subscribePush). Kept apart from app.js.
import { gql, session } from "./api.js";
import { lang } from "./i18n.js";

const WORDS = {
  vi: { button: "Báo cho tôi", on: "Đã bật thông báo.", denied: "Trình duyệt đã chặn thông báo.",
        off: "Máy chủ này chưa bật thông báo đẩy.", failed: "Không bật được thông báo: " },
  en: { button: "Notify me", on: "Notifications are on.", denied: "The browser blocked notifications.",
        off: "This server has no push notifications.", failed: "Could not turn notifications on: " },
};
const say = (key) => (WORDS[lang()] || WORDS.en)[key];

function keyBytes(base64url) {
  const raw = atob(base64url.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

function tell(text) {
  const banner = document.getElementById("banner");
  if (!banner) return;
  banner.textContent = text;
  banner.hidden = false;
}

export async function enablePush() {
  const { pushPublicKey } = await gql("{ pushPublicKey }");
  if (!pushPublicKey || !("serviceWorker" in navigator) || !("PushManager" in window)) return tell(say("off"));
  // Asked here, after the click: a prompt on load is refused by people and penalised by browsers.
  const permission = await Notification.requestPermission();
  if (permission !== "granted") return tell(say("denied"));
  try {
    const registration = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
    await navigator.serviceWorker.ready;
    const subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true, applicationServerKey: keyBytes(pushPublicKey),
    });
    const { keys } = subscription.toJSON();
    const data = await gql(
      "mutation ($input: PushSubscriptionInput!) { subscribePush(input: $input) { subscribed errors { message } } }",
      { input: { endpoint: subscription.endpoint, p256dh: keys.p256dh, auth: keys.auth } },
    );
    const errors = data.subscribePush.errors;
    tell(errors.length ? say("failed") + errors.map((e) => e.message).join(" ") : say("on"));
  } catch (error) {
    tell(say("failed") + error.message);
  }
}

function install() {
  const signOut = document.getElementById("sign-out");
  if (!signOut || document.getElementById("notify-me")) return;
  const button = document.createElement("button");
  button.type = "button";
  button.id = "notify-me";
  button.className = "link";
  button.addEventListener("click", () => enablePush());
  signOut.before(button);
  // Shown with "sign out" (signed in only), relabelled with the page's language.
  const sync = () => {
    button.hidden = signOut.hidden || !session.token;
    button.textContent = say("button");
  };
  new MutationObserver(sync).observe(signOut, { attributes: true, attributeFilter: ["hidden"] });
  new MutationObserver(sync).observe(document.documentElement, { attributes: true, attributeFilter: ["lang"] });
  sync();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", install);
else install();
