// Labels in Vietnamese and English. The API's own error messages come translated
// by the server (Accept-Language), so the page never translates them itself.
const STRINGS = {
  vi: {
    skip: "Bỏ qua đến nội dung", navLabel: "Chính", tabNeed: "Tôi cần giúp đỡ", tabHelp: "Tôi muốn giúp",
    tabVerify: "Xác minh", signOut: "Đăng xuất", signIn: "Đăng nhập", signUp: "Tạo tài khoản",
    heroTitle: "Kết nối người cần giúp với hàng xóm có thể giúp",
    heroText: "Đăng yêu cầu về thực phẩm, thuốc, thiết bị học tập; hoặc giúp người gần bạn. Vị trí chính xác chỉ được chia sẻ với người đang giúp bạn.",
    phone: "Số điện thoại", password: "Mật khẩu", passwordNew: "Mật khẩu (ít nhất 10 ký tự)", displayName: "Tên hiển thị",
    postNeed: "Đăng yêu cầu hỗ trợ", category: "Loại", title: "Tiêu đề", details: "Chi tiết", quantity: "Số lượng",
    unit: "Đơn vị", urgency: "Mức độ khẩn cấp", expires: "Cần trước ngày", contactPhone: "Số điện thoại liên hệ",
    contactPhoneShort: "Điện thoại liên hệ", pickOnMapButton: "Chọn trên bản đồ",
    where: "Ở đâu? Bấm vào bản đồ, nhập toạ độ, hoặc dùng vị trí của bạn.", lat: "Vĩ độ", lon: "Kinh độ",
    useMyLocation: "Dùng vị trí của tôi", post: "Đăng yêu cầu", myNeeds: "Yêu cầu của tôi", radius: "Bán kính",
    search: "Tìm", nearby: "Gần bạn", live: "trực tiếp", liveOff: "mất kết nối", myPledges: "Cam kết của tôi",
    proposals: "Đề xuất cho bạn", relays: "Hàng cần chuyển đi", dropAt: "Mang đến điểm tập kết",
    fromOffer: "Từ", acceptProposal: "Đồng ý", declineProposal: "Không nhận",
    queue: "Cần xác minh trong phường của tôi", mapLabel: "Bản đồ",
    cellsHint: "Mỗi ô vuông là một vùng khoảng 500 m: vị trí chính xác chỉ được chia sẻ khi bạn đã cam kết giúp.",
    footer: "aidmap: mã nguồn mở, giao diện tham khảo dùng API GraphQL công khai.",
    allCategories: "Tất cả", pledge: "Cam kết", pledgeQuantity: "Số lượng cam kết", away: "cách", needed: "cần",
    pledged: "đã cam kết", delivered: "đã nhận", confirmDelivery: "Xác nhận đã nhận", markDelivered: "Tôi đã giao", awaitingConfirmation: "Chờ người nhận xác nhận", donorSaysDelivered: "Nhà hảo tâm báo đã giao: hãy xác nhận khi bạn đã nhận.", acceptPledge: "Chấp nhận", chat: "Trò chuyện",
    send: "Gửi", message: "Tin nhắn", noNeeds: "Bạn chưa có yêu cầu nào.", noNearby: "Không có yêu cầu nào trong vùng này.",
    noPledges: "Bạn chưa cam kết giúp ai.", noQueue: "Không có gì cần xác minh.", by: "từ", verify: "Xác minh",
    reject: "Từ chối", reason: "Lý do", verifiedBy: "Đã xác minh bởi", posted: "Đã đăng yêu cầu.",
    pledgedOk: "Cảm ơn bạn! Đã gửi cam kết.", newNeed: "Có yêu cầu mới gần bạn.", signedOut: "Bạn đã đăng xuất.",
    exact: "Địa chỉ chính xác", contact: "Liên hệ", cancelPledge: "Hủy cam kết", pledgesOnNeed: "Người giúp",
    noPledgesYet: "Chưa có ai cam kết.", you: "Bạn", locationMissing: "Hãy chọn vị trí trên bản đồ hoặc nhập toạ độ.",
    geoUnavailable: "Trình duyệt không cho biết vị trí.", signInFirst: "Hãy đăng nhập để tiếp tục.",
    households: "người", expiresOn: "hạn",
    tabOperator: "Tổng đài", tabClaim: "Nhận yêu cầu", pledgeStatus: "Đã cam kết",
    household: "Số người trong nhà", moreOptions: "Thêm chi tiết", orderBy: "Sắp xếp", byDistance: "Gần nhất",
    byUrgency: "Khẩn cấp nhất", urgentOnly: "Chỉ việc khẩn cấp", showAll: "Hiện tất cả", inThisCell: "Trong ô này",
    myOffers: "Món tôi có thể cho", postOffer: "Đăng món có thể cho", travelRadius: "Tôi có thể đi xa (km)",
    availableUntil: "Có đến ngày", postOfferBtn: "Đăng", offerPosted: "Đã đăng món có thể cho.", withdraw: "Thu hồi",
    suggestions: "Gợi ý người cần", noSuggestions: "Chưa có ai cần món này trong bán kính của bạn.",
    noOffers: "Bạn chưa đăng món nào để cho.",
    whyClose: "gần bạn", whyWaiting: "đã chờ {n} ngày", whyWaitingHours: "đã chờ {n} giờ", whyNotHelped: "chưa được ai giúp",
    whyUrgent: "khẩn cấp", whyCovers: "bạn đủ cho cả", availability: "Sẵn sàng giúp ngay",
    availabilityOn: "Bạn đang sẵn sàng: người gần bạn có thể nhờ ngay.", availabilityOff: "Bạn đang tắt nhận nhờ giúp ngay.",
    helpAsked: "Có người cần giúp ngay", accept: "Nhận giúp", accepted: "Bạn đã nhận giúp. Địa chỉ ở mục Cam kết của tôi.",
    report: "Báo cáo", reportReason: "Lý do báo cáo", reported: "Cảm ơn, đã gửi báo cáo.", openMaps: "Mở bản đồ",
    walk: "khoảng {n} phút đi bộ", edit: "Sửa", save: "Lưu", cancelNeed: "Hủy yêu cầu", renew: "Vẫn cần giúp?",
    renewed: "Đã gia hạn yêu cầu.", saved: "Đã lưu thay đổi.", needCancelled: "Đã hủy yêu cầu.",
    cancelSure: "Hủy yêu cầu này?", cancelYes: "Có, hủy", cancelNo: "Không", helpNow: "Nhờ giúp ngay", helpNowSent: "Đang hỏi những người gần nhất…",
    helpExhausted: "Chưa có ai nhận lúc này: yêu cầu vẫn mở.", helpAccepted: "Có người đã nhận giúp!",
    helpAsking: "Đang hỏi những người giúp gần nhất (lượt {n}).",
    operatorTitle: "Đăng yêu cầu giúp người khác (qua điện thoại)", personName: "Tên người cần giúp",
    personPhone: "Số điện thoại của họ", fileNeed: "Đăng giúp", filedNeeds: "Yêu cầu tôi đã đăng giúp",
    noFiled: "Bạn chưa đăng giúp ai.", claimCode: "Mã nhận", claimCodeHint: "Đọc mã này cho người được giúp (chỉ hiện một lần).",
    newCode: "Mã mới", needId: "Mã yêu cầu", claimTitle: "Nhận yêu cầu người khác đã đăng giúp bạn",
    claimHint: "Đăng nhập bằng số điện thoại đã dùng khi đăng, rồi nhập mã yêu cầu và mã nhận.", claim: "Nhận",
    claimed: "Yêu cầu giờ là của bạn.", claimedBy: "Đã được nhận", notClaimed: "Chưa nhận",
    claimantConfirms: "Người được giúp đã nhận yêu cầu: họ tự xác nhận khi nhận hàng.",
    deliveryConfirmed: "Đã xác nhận nhận hàng.",
    findPlace: "Tìm phường, xã", city: "Thành phố", findPlaceHint: "Chọn phường rồi bấm vào bản đồ để chọn chỗ.",
    placeChosen: "Đã chọn vị trí.", pickOnMap: "Bấm vào bản đồ để chọn đúng chỗ.", search2: "Tìm",
    mine: "Của tôi", forPerson: "cho",
  },
  en: {
    skip: "Skip to content", navLabel: "Main", tabNeed: "I need help", tabHelp: "I want to help", tabVerify: "Verify",
    signOut: "Sign out", signIn: "Sign in", signUp: "Create an account",
    heroTitle: "Connecting people who need help with neighbours who can give it",
    heroText: "Ask for food, medicine or a device for school, or help someone near you. Your exact location is shared only with the people helping you.",
    phone: "Phone number", password: "Password", passwordNew: "Password (at least 10 characters)", displayName: "Display name",
    postNeed: "Ask for help", category: "Category", title: "Title", details: "Details", quantity: "Quantity",
    unit: "Unit", urgency: "Urgency", expires: "Needed by", contactPhone: "Contact phone",
    contactPhoneShort: "Contact phone", pickOnMapButton: "Pick on the map",
    where: "Where? Click the map, type coordinates, or use your location.", lat: "Latitude", lon: "Longitude",
    useMyLocation: "Use my location", post: "Post", myNeeds: "My needs", radius: "Radius",
    search: "Search", nearby: "Near you", live: "live", liveOff: "offline", myPledges: "My pledges",
    proposals: "Proposed to you", relays: "Deliveries to carry", dropAt: "Drop it at the collection point",
    fromOffer: "From", acceptProposal: "Accept", declineProposal: "Decline",
    queue: "Waiting for verification in my wards", mapLabel: "Map",
    cellsHint: "Each square is an area of about 500 m: the exact location is shared only once you pledge.",
    footer: "aidmap: open source; this reference page uses only the public GraphQL API.",
    allCategories: "All", pledge: "Pledge", pledgeQuantity: "Quantity to pledge", away: "away", needed: "needed",
    pledged: "pledged", delivered: "delivered", confirmDelivery: "Confirm delivery", markDelivered: "I delivered it", awaitingConfirmation: "Waiting for the requester to confirm", donorSaysDelivered: "The donor says it was delivered: confirm once you have it.", acceptPledge: "Accept", chat: "Chat",
    send: "Send", message: "Message", noNeeds: "You have not asked for anything yet.", noNearby: "No needs in this area.",
    noPledges: "You have not pledged yet.", noQueue: "Nothing to verify.", by: "from", verify: "Verify",
    reject: "Reject", reason: "Reason", verifiedBy: "Verified by", posted: "Your need is posted.",
    pledgedOk: "Thank you! Your pledge is sent.", newNeed: "A new need near you.", signedOut: "You are signed out.",
    exact: "Exact location", contact: "Contact", cancelPledge: "Cancel pledge", pledgesOnNeed: "Helpers",
    noPledgesYet: "No pledges yet.", you: "You", locationMissing: "Choose the location on the map or type coordinates.",
    geoUnavailable: "The browser did not share a location.", signInFirst: "Sign in to continue.",
    households: "people", expiresOn: "until",
    tabOperator: "Operator", tabClaim: "Claim", pledgeStatus: "Pledged",
    household: "People in the household", moreOptions: "More details", orderBy: "Order", byDistance: "Nearest",
    byUrgency: "Most urgent", urgentOnly: "Urgent only", showAll: "Show all", inThisCell: "In this cell",
    myOffers: "What I can give", postOffer: "Offer something", travelRadius: "How far I can go (km)",
    availableUntil: "Available until", postOfferBtn: "Post", offerPosted: "Your offer is posted.", withdraw: "Withdraw",
    suggestions: "Suggested needs", noSuggestions: "Nobody within your radius needs this yet.",
    noOffers: "You have not offered anything yet.",
    whyClose: "close to you", whyWaiting: "waiting {n} days", whyWaitingHours: "waiting {n} hours", whyNotHelped: "not yet helped",
    whyUrgent: "urgent", whyCovers: "you can cover it all", availability: "Available for instant help",
    availabilityOn: "You are available: people near you can ask you now.", availabilityOff: "Instant help requests are off.",
    helpAsked: "Someone needs help now", accept: "Accept", accepted: "You accepted. The address is under My pledges.",
    report: "Report", reportReason: "Why are you reporting this?", reported: "Thank you, the report is sent.", openMaps: "Open in maps",
    walk: "about {n} min on foot", edit: "Edit", save: "Save", cancelNeed: "Cancel need", renew: "Still need help?",
    renewed: "Your need is renewed.", saved: "Changes saved.", needCancelled: "Your need is cancelled.",
    cancelSure: "Cancel this need?", cancelYes: "Yes, cancel it", cancelNo: "Keep it", helpNow: "Request help now", helpNowSent: "Asking the nearest donors…",
    helpExhausted: "Nobody accepted yet: your need stays open.", helpAccepted: "Someone accepted to help!",
    helpAsking: "Asking the nearest donors (round {n}).",
    operatorTitle: "File a need for someone (by phone)", personName: "Name of the person",
    personPhone: "Their phone number", fileNeed: "File", filedNeeds: "Needs I filed for others",
    noFiled: "You have not filed for anyone yet.", claimCode: "Claim code", claimCodeHint: "Read this code to the person (shown once).",
    newCode: "New code", needId: "Need id", claimTitle: "Claim a need someone filed for you",
    claimHint: "Sign in with the phone number used when filing, then enter the need id and the claim code.", claim: "Claim",
    claimed: "The need is now yours.", claimedBy: "Claimed", notClaimed: "Not claimed yet",
    claimantConfirms: "The person has claimed this need: they confirm delivery themselves.",
    deliveryConfirmed: "Delivery confirmed.",
    findPlace: "Find a ward", city: "City", findPlaceHint: "Choose the ward, then tap the map to pick the spot.",
    placeChosen: "Location chosen.", pickOnMap: "Tap the map to pick the exact spot.", search2: "Find",
    mine: "Mine", forPerson: "for",
  },
};

const CATEGORIES = {
  vi: { FOOD: "Thực phẩm", MEDICINE: "Thuốc", STUDY_DEVICE: "Thiết bị học tập", MEDICAL_CONSULTATION: "Tư vấn y tế",
        ESSENTIALS: "Nhu yếu phẩm", ERRAND: "Việc vặt", OTHER: "Khác" },
  en: { FOOD: "Food", MEDICINE: "Medicine", STUDY_DEVICE: "Study device", MEDICAL_CONSULTATION: "Medical consultation",
        ESSENTIALS: "Essentials", ERRAND: "Errand", OTHER: "Other" },
};
const STATUSES = {
  vi: { OPEN: "Đang mở", PARTLY_PLEDGED: "Đã có một phần", PLEDGED: "Đã đủ cam kết", FULFILLED: "Đã hoàn thành",
        CANCELLED: "Đã hủy", EXPIRED: "Hết hạn", PENDING_VERIFICATION: "Chờ xác minh", UNDER_REVIEW: "Đang xem xét",
        REJECTED: "Bị từ chối", DELIVERED: "Đã giao" },
  en: { OPEN: "Open", PARTLY_PLEDGED: "Partly pledged", PLEDGED: "Fully pledged", FULFILLED: "Fulfilled",
        CANCELLED: "Cancelled", EXPIRED: "Expired", PENDING_VERIFICATION: "Pending verification", UNDER_REVIEW: "Under review",
        REJECTED: "Rejected", DELIVERED: "Delivered" },
};
const URGENCIES = {
  vi: { LOW: "Thấp", NORMAL: "Bình thường", HIGH: "Cao", CRITICAL: "Rất khẩn cấp" },
  en: { LOW: "Low", NORMAL: "Normal", HIGH: "High", CRITICAL: "Critical" },
};

let current = localStorage.getItem("aidmap.lang") ||
  ((navigator.languages || [navigator.language || "vi"]).some((l) => l.toLowerCase().startsWith("vi")) ? "vi" :
    (navigator.language || "").toLowerCase().startsWith("en") ? "en" : "vi");

export const lang = () => current;
export const t = (key, values = {}) =>
  String(STRINGS[current][key] ?? key).replace(/\{(\w+)\}/g, (_, name) => values[name] ?? "");
export const category = (c) => CATEGORIES[current][c] ?? c;
export const status = (s) => STATUSES[current][s] ?? s;
export const urgency = (u) => URGENCIES[current][u] ?? u;
// A pledge's own status: "PLEDGED" is "pledged", not the need's "fully pledged".
export const pledgeStatus = (s) => (s === "PLEDGED" ? t("pledgeStatus") : status(s));
// A unit that fits the category, suggested when the category changes (the person may type another).
const UNITS = {
  vi: { FOOD: "kg", MEDICINE: "hộp", STUDY_DEVICE: "cái", MEDICAL_CONSULTATION: "lần", ESSENTIALS: "gói", ERRAND: "lần", OTHER: "lần" },
  en: { FOOD: "kg", MEDICINE: "box", STUDY_DEVICE: "device", MEDICAL_CONSULTATION: "call", ESSENTIALS: "pack", ERRAND: "errand", OTHER: "item" },
};
export const unitFor = (c) => UNITS[current][c] ?? "";
export const allUnits = () => new Set([...Object.values(UNITS.vi), ...Object.values(UNITS.en)]);
// Every label of one language (the page's tests check that no label of the other one shows).
export const labels = (l) => [STRINGS, CATEGORIES, STATUSES, URGENCIES, UNITS].flatMap((table) => Object.values(table[l]));
export const categories = () => Object.keys(CATEGORIES.en);
export const urgencies = () => Object.keys(URGENCIES.en);

export function setLang(next) {
  current = next;
  localStorage.setItem("aidmap.lang", next);
  applyStatic();
}

/** Fill every element marked data-i18n (text), data-i18n-aria (aria-label) or data-i18n-placeholder. */
export function applyStatic(root = document) {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", t(el.dataset.i18nAria));
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.setAttribute("placeholder", t(el.dataset.i18nPlaceholder));
}
