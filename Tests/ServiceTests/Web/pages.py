"""Drives Loupe's web pages in headless Chromium the way a person would, and prints what they saw as JSON.

usage: pages.py BASE_URL ARTISAN_TOKEN MODERATOR_TOKEN PHOTO
Exit status 0 when every step showed what a person expects; 1 with the failing step otherwise.
"""
import json
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException
from selenium.webdriver.support.ui import Select, WebDriverWait

base, artisan, moderator, photo = sys.argv[1:5]
options = webdriver.ChromeOptions()
for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"):
    options.add_argument(flag)
options.binary_location = "/usr/bin/chromium"
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
# Pages are replaced on every form post: an element found on the old page goes stale.
# A poll may touch a node of the page being replaced: Chrome then answers "stale element" or, since
# about version 150, a plain WebDriverException "Node with given id does not belong to the document".
# Either means "not yet"; a condition that never holds still ends in a timeout.
wait = WebDriverWait(driver, 20, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException, WebDriverException))


def replaced(old):
    """A wait condition: the page that `old` (its html element) belonged to is gone."""
    def gone(_):
        try:
            old.tag_name
            return False
        except (StaleElementReferenceException, WebDriverException):
            return True
    return gone
seen = {}


def check(condition, step):
    if not condition:
        print(json.dumps({"failed": step, "seen": seen, "url": driver.current_url, "page": driver.find_element(By.TAG_NAME, "body").text[:2000]}))
        driver.quit()
        sys.exit(1)


def text(selector):
    """The element's text, waiting for it to appear (a form post loads a new page)."""
    return wait.until(lambda d: d.find_element(By.CSS_SELECTOR, selector)).text


def sign_in(token):
    driver.get(base + "/login")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()


try:
    # Signed out: the artisan page sends you to sign in; a wrong token is refused with a message.
    driver.get(base + "/artisan")
    check(driver.current_url.endswith("/login"), "signed-out redirect to /login")
    sign_in("lp_not-a-token")
    check("not valid" in text(".error"), "wrong token message")

    # The artisan uploads a photo and sees the draft with its confidence flags.
    sign_in(artisan)
    wait.until(lambda d: d.current_url.endswith("/artisan"))
    check(text("h1") == "New listing draft", "upload page heading")
    driver.find_element(By.ID, "photo").send_keys(photo)
    driver.find_element(By.ID, "notes").send_keys("Made by hand in my studio")
    driver.find_element(By.CSS_SELECTOR, "form[action='/artisan/drafts'] button").click()
    wait.until(lambda d: "/artisan/drafts/" in d.current_url)
    seen["draft_url"] = driver.current_url
    seen["title"] = text("#draft-title")
    seen["status"] = text("#draft-status")
    seen["claims"] = [row.text for row in driver.find_elements(By.CSS_SELECTOR, "table.claims tr[data-field]")]
    seen["flagged"] = [row.get_attribute("data-field") for row in driver.find_elements(By.CSS_SELECTOR, "table.claims tr.flagged")]
    seen["badges"] = len(driver.find_elements(By.CSS_SELECTOR, "table.claims .badge"))
    seen["needs_review_note"] = text("#needs-review") if driver.find_elements(By.ID, "needs-review") else ""
    image = driver.find_element(By.CSS_SELECTOR, ".photos img")
    seen["photo_width"] = driver.execute_script("return arguments[0].naturalWidth", image)
    check(seen["status"] == "pending", "new draft is pending")
    check(seen["photo_width"] > 0, "the uploaded photo is shown")
    check(len(seen["claims"]) == 5 and all("%" in row or "not stated" in row for row in seen["claims"]), "each claim shows a confidence")
    check(seen["badges"] == len(seen["flagged"]), "every flagged row carries a visible badge")
    check(sorted(seen["needs_review_note"].split(", ")) == sorted(seen["flagged"]) if seen["flagged"] else True, "the note names the flagged fields")

    # The artisan rates the draft and corrects the metal.
    Select(driver.find_element(By.ID, "rating")).select_by_value("4")
    Select(driver.find_element(By.ID, "fix-metal")).select_by_value("rose-gold")
    driver.find_element(By.CSS_SELECTOR, "form[action$='/feedback'] button").click()
    wait.until(lambda d: "saved=1" in d.current_url)
    check("feedback is saved" in text(".ok"), "feedback confirmation")

    # The moderator finds it in the queue, edits metal and description, and approves it.
    driver.find_element(By.CSS_SELECTOR, "form[action='/logout'] button").click()
    sign_in(moderator)
    wait.until(lambda d: d.current_url.endswith("/moderation"))
    links = driver.find_elements(By.CSS_SELECTOR, "table.drafts a")
    check(len(links) == 1 and links[0].text == seen["title"], "the draft is in the queue under its title")
    links[0].click()
    Select(driver.find_element(By.ID, "metal")).select_by_value("rose-gold")
    title = driver.find_element(By.ID, "title")
    title.clear()
    title.send_keys("Rose gold pendant")
    description = driver.find_element(By.ID, "description")
    description.clear()
    description.send_keys("A rose gold piece, made by hand.")
    # The edit posts and redirects to the same URL, where the old page already shows rose gold
    # selected: wait for the old page to go before reading the new one (clicking "approve" on a page
    # being replaced failed with "Node with given id does not belong to the document").
    old_page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, "form[action$='/edit'] button").click()
    wait.until(replaced(old_page))
    wait.until(lambda d: Select(d.find_element(By.ID, "metal")).first_selected_option.get_attribute("value") == "rose-gold")
    seen["metal_label_after_edit"] = driver.find_element(By.CSS_SELECTOR, "label[for='metal']").text
    check("set by moderator" in seen["metal_label_after_edit"] and "needs review" not in seen["metal_label_after_edit"], "edited metal is no longer flagged")
    old_page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, "approve").click()
    wait.until(replaced(old_page))
    wait.until(lambda d: d.find_element(By.ID, "draft-status").text == "approved")
    seen["final_status"] = text("#draft-status")
    seen["final_description"] = text("#draft-description")
    check(seen["final_description"] == "A rose gold piece, made by hand.", "the approved listing shows the moderator's text")
    driver.get(base + "/moderation")
    check("Nothing waiting." in driver.find_element(By.TAG_NAME, "body").text, "the queue is empty after approval")
except Exception as error:  # a step that could not even run: report it like a failed check
    check(False, f"{type(error).__name__}: {error}")

print(json.dumps(seen))
driver.quit()
