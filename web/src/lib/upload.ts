// Resumable uploads (docs/files.md): start, send each part (with progress), complete.
// A part that fails is sent again up to three times; an upload given up on is aborted so
// that nothing of it stays behind.
import { api, ApiError, fillPath, problemOf, unsafeHeaders, type Schemas } from "../api/client";

export interface Place {
  container_type: "channel" | "chat" | "user";
  container_id: string;
}

function putPart(url: string, body: Blob, onProgress: (sent: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    for (const [k, v] of Object.entries(unsafeHeaders())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      void problemOf(new Response(xhr.responseText, { status: xhr.status, statusText: xhr.statusText })).then(reject);
    };
    xhr.onerror = () => reject(new ApiError(0, "offline", ""));
    xhr.send(body);
  });
}

export async function uploadFile(
  file: File,
  place: Place,
  onProgress: (fraction: number) => void,
): Promise<Schemas["FilePublic"]> {
  const up = await api.post("/api/v1/files/uploads", {
    body: { ...place, name: file.name, size: file.size },
  });
  let done = 0;
  try {
    for (let n = 0; n < up.parts; n++) {
      const part = file.slice(n * up.part_size, Math.min(file.size, (n + 1) * up.part_size));
      const url = fillPath("/api/v1/files/uploads/{upload_id}/parts/{n}", { upload_id: up.id, n });
      for (let attempt = 0; ; attempt++) {
        try {
          await putPart(url, part, (sent) => onProgress((done + sent) / file.size));
          break;
        } catch (e) {
          // a refusal (4xx) will not change on a second try
          if (attempt >= 2 || (e instanceof ApiError && e.status >= 400 && e.status < 500)) throw e;
        }
      }
      done += part.size;
      onProgress(done / file.size);
    }
    return await api.post("/api/v1/files/uploads/{upload_id}/complete", { path: { upload_id: up.id } });
  } catch (e) {
    await api.del("/api/v1/files/uploads/{upload_id}", { path: { upload_id: up.id } }).catch(() => undefined);
    throw e;
  }
}
